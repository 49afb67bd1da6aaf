"""``generate`` and ``perplexity``: trying a decoder run (continue a prompt; score a text
before and after the run's method adapts to a few documents)."""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli._output import EXIT_OK, db_path, open_store, print_json, route_library_output_to_stderr, with_db
from engine.errors import UserError


def cmd_generate(args: argparse.Namespace) -> int:
    from engine.generation import check_options, generate
    from engine.inference import load_trained_encoder

    prompts = list(args.prompt or [])
    options = dict(max_new_tokens=args.max_new_tokens, min_new_tokens=args.min_new_tokens, sample=args.sample,
                   temperature=args.temperature, top_p=args.top_p)
    check_options(prompts, **options)  # before the model loads
    with open_store(args) as store:
        run_id = store.resolve_id(args.id)
    route_library_output_to_stderr()
    encoder = load_trained_encoder(db_path(args), run_id, device=args.device)
    result = generate(encoder, prompts, seed=args.seed, **options)
    result["run_id"] = run_id
    if args.json:
        print_json(result)
    else:
        for item in result["continuations"]:
            gap = "" if item["continuation"][:1].isspace() else " "  # WordPiece decodes without the leading space
            print(f"{item['prompt']}{gap}{item['continuation']}")
    return EXIT_OK


def perplexity_request(args: argparse.Namespace) -> dict[str, Any]:
    """``--input``'s JSON object, or ``--text`` with ``--document``s."""
    from engine.fileio import read_json_request

    if args.input is not None:
        if args.text is not None or args.document:
            raise UserError("give --input, or --text with --document, not both")
        return read_json_request(args.input)
    return {"text": args.text, "documents": list(args.document or [])}


def cmd_perplexity(args: argparse.Namespace) -> int:
    from engine.adapted_perplexity import adapted_perplexity, check_request

    request = perplexity_request(args)
    check_request(request)  # before the model loads
    with open_store(args) as store:
        run_id = store.resolve_id(args.id)
    route_library_output_to_stderr()
    result = adapted_perplexity(db_path(args), run_id, request, device=args.device)
    if args.json:
        print_json(result)
    else:
        before, after = result["before"]["perplexity"], result["after"]["perplexity"]
        print(f"perplexity {before:.2f} before, {after:.2f} after adapting on {result['documents']} documents "
              f"({result['adaptation']}; {result['tokens']} tokens scored)")
    return EXIT_OK


def add_commands(sub: Any) -> None:
    p = with_db(sub.add_parser("generate", help="continue prompts with a trained decoder run (greedy, or sampled)"))
    p.add_argument("id", help="run id (a unique prefix is enough)")
    p.add_argument("--prompt", action="append", help="a text to continue; repeat for several (batched, left-padded)")
    p.add_argument("--max-new-tokens", type=int, default=40, help="tokens to add at most (default 40)")
    p.add_argument("--min-new-tokens", type=int, default=0,
                   help="hold the end-of-document token back until this many tokens are added (default 0)")
    p.add_argument("--sample", action="store_true", help="sample the next token (default: greedy, the most likely one)")
    p.add_argument("--temperature", type=float, default=1.0, help="with --sample: below 1 sharper, above 1 flatter (default 1)")
    p.add_argument("--top-p", type=float, default=1.0, help="with --sample: draw from the smallest set of tokens holding this "
                                                            "much probability (default 1: all)")
    p.add_argument("--seed", type=int, default=0, help="with --sample: the random seed (same seed, same text)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps")
    p.add_argument("--json", action="store_true", help="print {run_id, continuations: [{prompt, continuation, tokens}], settings}")
    p.set_defaults(func=cmd_generate)
    p = with_db(sub.add_parser(
        "perplexity", help="a text's perplexity under a language-modelling run, before and after adapting on a few documents"
    ))
    p.add_argument("id", help="run id (a unique prefix is enough)")
    p.add_argument("--text", help="the text to score")
    p.add_argument("--document", action="append", help="a document to adapt on (the support set); repeat for several")
    p.add_argument("--input", help='instead of --text/--document: JSON file {"text": ..., "documents": [...]}, or - for stdin')
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps")
    p.add_argument("--json", action="store_true", help="print {before, after: {perplexity, loss, token_accuracy}, ...} as JSON")
    p.set_defaults(func=cmd_perplexity)
