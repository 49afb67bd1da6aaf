"""``predict``, ``export-model`` and ``model-info``: trained runs and models as users use them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.cli._output import EXIT_OK, db_path, open_store, print_json, route_library_output_to_stderr, with_db


def cmd_predict(args: argparse.Namespace) -> int:
    from engine.fileio import read_json_request
    from engine.inference import load_trained_run, predict

    request = read_json_request(args.input)
    with open_store(args) as store:
        run_id = store.resolve_id(args.id)
    route_library_output_to_stderr()
    encoder, config = load_trained_run(db_path(args), run_id, device=args.device)
    result = predict(encoder, request, config=config)
    if args.explain:
        from engine.inspection import explain

        if "temperature" not in result:  # not a nearest-class-mean answer
            from engine.errors import UserError

            raise UserError(f"--explain is for nearest-class-mean answers; a {config.method.name} run scores "
                            "labels after a prompt (each prediction's \"prompt\" shows it)")

        explain(encoder, request, result)
    result["run_id"] = run_id
    print_json(result)
    return EXIT_OK


def cmd_export_model(args: argparse.Namespace) -> int:
    from engine.export import export_model

    with open_store(args) as store:
        run_id = store.resolve_id(args.id)
    route_library_output_to_stderr()
    out = export_model(db_path(args), run_id, Path(args.out_dir), step=args.step, adapter_only=args.adapter_only)
    if args.json:
        print_json({"run_id": run_id, "path": str(out.resolve()), "files": sorted(f.name for f in out.iterdir())})
    else:
        print(out)
    return EXIT_OK


def cmd_model_info(args: argparse.Namespace) -> int:
    from engine.models.loading import model_info

    info = model_info(args.name, allow_pickle=args.allow_pickle)
    if args.json:
        print_json(info)
    else:
        for key, value in info.items():
            print(f"{key:12} {value}")
    return EXIT_OK


def add_commands(sub: Any) -> None:
    p = with_db(sub.add_parser("predict", help="label query texts with a trained run, adapted to a few labelled examples"))
    p.add_argument("id", help="run id (a unique prefix is enough)")
    p.add_argument("--input", required=True, help='JSON file {"support": [{"text", "label"}...], "query": [texts]}, or - for stdin')
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps")
    p.add_argument("--explain", action="store_true",
                   help="add each query's words with how much each drove its predicted label (integrated gradients, captum)")
    p.set_defaults(func=cmd_predict)
    p = with_db(sub.add_parser(
        "export-model", help="a trained run as a folder that AutoModel and sentence-transformers open, with a model card"
    ))
    p.add_argument("id", help="run id (a unique prefix is enough)")
    p.add_argument("out_dir", help="folder to write")
    p.add_argument("--step", type=int, help="export the run's checkpoint at this step instead of its final weights")
    p.add_argument("--adapter-only", action="store_true", help="a LoRA run's adapter alone, as a PEFT folder (default: merged weights)")
    p.add_argument("--json", action="store_true", help="print {run_id, path, files} as JSON (the GUI reads it)")
    p.set_defaults(func=cmd_export_model)
    p = sub.add_parser("model-info", help="parameter count and size of a model, without loading it")
    p.add_argument("name", help="bundled:NAME, a local folder or a Hugging Face id")
    p.add_argument("--allow-pickle", action="store_true", help="accept pickle weight files")
    p.add_argument("--json", action="store_true", help="a JSON object")
    p.set_defaults(func=cmd_model_info)
