"""export-model: the folder opens in sentence-transformers, AutoModel and PEFT and gives MetaLab's own numbers."""

from __future__ import annotations

import json
import stat

import pytest
import torch
import torch.nn.functional as F

from engine.cli import main
from tests.conftest import tiny_config_text, write_keyword_dataset

LONG = " ".join(["apple river engine violin castle pepper"] * 20)  # far past max_length = 16 tokens
TEXTS = ["apple pie", "the river bank today", LONG]
SUPERVISED = "supervised-finetune"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model):
    """A default protonet, maml (LoRA scope) and supervised finetune run, trained briefly."""
    folder = tmp_path_factory.mktemp("export")
    data = write_keyword_dataset(folder / "kw.csv")
    db = folder / "runs.db"
    ids = {}
    for name, method in (("protonet", "protonet"), ("maml", "maml"), (SUPERVISED, "finetune")):
        text = tiny_config_text(tiny_model, data, method=method, episodes=2)
        if name == SUPERVISED:
            text = text.replace("[task]", '[task]\nmode = "supervised"')
        config = folder / f"{name}.toml"
        config.write_text(text)
        assert main(["run", str(config), "--db", str(db), "--set", "train.checkpoint_every=1"]) == 0
        from engine.store import Store

        with Store(db) as store:
            ids[name] = store.list_runs(limit=1)[0]["id"]
    return db, ids


def metalab_embeddings(db, run_id, texts):
    """What MetaLab's predict path compares: the trained encoder's embeddings, L2-normalised."""
    from engine.inference import _embed, load_trained_encoder

    with torch.no_grad():
        return F.normalize(_embed(load_trained_encoder(db, run_id), texts), dim=-1)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["protonet", "maml", SUPERVISED])
def test_the_export_is_a_sentence_transformers_model_with_metalabs_embeddings(runs, name, tmp_path, capsys):
    from sentence_transformers import SentenceTransformer

    db, ids = runs
    out = tmp_path / "model"
    assert main(["export-model", ids[name], str(out), "--db", str(db)]) == 0
    model = SentenceTransformer(str(out), device="cpu")
    assert model.max_seq_length == 16
    got = model.encode(TEXTS, convert_to_tensor=True)
    assert torch.allclose(got, metalab_embeddings(db, ids[name], TEXTS), atol=1e-5)

    from transformers import AutoModel

    assert AutoModel.from_pretrained(out).config.hidden_size == got.shape[1]
    card = (out / "README.md").read_text()
    import engine

    for fact in (ids[name], f"MetaLab {engine.__version__}", "| method |", "| data |", "| N / K |", "meta-test result"):
        assert fact in card, fact
    from engine.config import RunConfig

    assert RunConfig.load(out / "metalab_run.toml").method.name == ("finetune" if name == SUPERVISED else name)
    if name != SUPERVISED:
        assert "support set" in card and "head.safetensors" not in {p.name for p in out.iterdir()}


@pytest.mark.slow
def test_a_supervised_export_carries_its_head_and_class_names(runs, tmp_path):
    """The exported head labels the run's meta-test rows as the run did: the same accuracy."""
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer

    from engine.data import load_dataset
    from engine.data.splits import split_rows
    from engine.store import Store

    db, ids = runs
    out = tmp_path / "model"
    assert main(["export-model", ids[SUPERVISED], str(out), "--db", str(db)]) == 0
    with Store(db) as store:
        run = store.get_run(ids[SUPERVISED])
    config = run["config"]
    dataset = load_dataset(config["dataset"]["path"])
    rows = split_rows(dataset.labels, test_fraction=config["task"]["meta_test_fraction"],
                      val_fraction=config["task"]["meta_val_fraction"], seed=config["task"]["split_seed"]).test
    tokenizer, encoder = AutoTokenizer.from_pretrained(out), AutoModel.from_pretrained(out).eval()
    head = load_file(str(out / "head.safetensors"))
    batch = tokenizer([dataset.texts[i] for i in rows], truncation=True, max_length=16, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = encoder(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    logits = ((hidden * mask).sum(1) / mask.sum(1)) @ head["weight"].T + head["bias"]
    predicted = [encoder.config.id2label[i] for i in logits.argmax(1).tolist()]
    accuracy = sum(p == dataset.labels[i] for p, i in zip(predicted, rows, strict=True)) / len(rows)
    assert accuracy == pytest.approx(run["final_metrics"]["test_accuracy"], abs=1e-6)  # stored as float32
    from engine.inference import _embed, load_trained_encoder, weights_dir
    from engine.training.checkpoints import load_checkpoint

    trained_head = load_checkpoint(weights_dir(db, ids[SUPERVISED]))[0]["head"]
    with torch.no_grad():
        expected = _embed(load_trained_encoder(db, ids[SUPERVISED]), [dataset.texts[i] for i in rows])
    expected = expected @ trained_head["weight"].T + trained_head["bias"]
    assert torch.allclose(logits, expected, atol=1e-5)
    assert sorted(encoder.config.id2label.values()) == sorted(set(dataset.labels))


@pytest.mark.slow
def test_a_lora_run_exports_its_adapter_alone_for_peft(runs, tmp_path, tiny_model):
    from peft import PeftModel
    from transformers import AutoModel, AutoTokenizer

    db, ids = runs
    out = tmp_path / "adapter"
    assert main(["export-model", ids["maml"], str(out), "--db", str(db), "--adapter-only"]) == 0
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md"} <= {p.name for p in out.iterdir()}
    model = PeftModel.from_pretrained(AutoModel.from_pretrained(tiny_model), str(out)).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    batch = tokenizer(TEXTS, truncation=True, max_length=16, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    got = F.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    assert torch.allclose(got, metalab_embeddings(db, ids["maml"], TEXTS), atol=1e-5)


@pytest.mark.slow
def test_adapter_only_on_a_run_without_lora_is_one_line(runs, tmp_path, capsys):
    db, ids = runs
    assert main(["export-model", ids["protonet"], str(tmp_path / "a"), "--db", str(db), "--adapter-only"]) == 2
    assert "no LoRA adapter" in capsys.readouterr().err and not (tmp_path / "a").exists()


@pytest.mark.slow
def test_a_checkpoint_becomes_a_hugging_face_folder(runs, tmp_path, capsys):
    """`export-model ID OUT --step N`: the one command that opens a checkpoint with from_pretrained."""
    from safetensors.torch import load_file
    from transformers import AutoModel

    from engine.paths import artifacts_dir

    db, ids = runs
    checkpoint = artifacts_dir(db) / ids["protonet"] / "checkpoint-000001"
    assert main(["export-model", ids["protonet"], str(tmp_path / "ckpt"), "--db", str(db), "--step", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["path"] == str((tmp_path / "ckpt").resolve())
    model = AutoModel.from_pretrained(tmp_path / "ckpt")
    saved = load_file(str(checkpoint / "model.safetensors"))
    assert torch.equal(model.embeddings.word_embeddings.weight.detach(), saved["encoder/backbone.embeddings.word_embeddings.weight"])
    assert main(["export-model", ids["protonet"], str(tmp_path / "x"), "--db", str(db), "--step", "99"]) == 2
    assert "no checkpoint at step 99" in capsys.readouterr().err


@pytest.mark.slow
def test_weights_and_exports_have_the_usual_permissions(runs, tmp_path):
    from engine.paths import artifacts_dir

    db, ids = runs
    weights = artifacts_dir(db) / ids["protonet"] / "weights"
    assert stat.S_IMODE(weights.stat().st_mode) == stat.S_IMODE((tmp_path / "probe").mkdir() or (tmp_path / "probe").stat().st_mode)
    assert main(["export-model", ids["protonet"], str(tmp_path / "m"), "--db", str(db)]) == 0
    assert stat.S_IMODE((tmp_path / "m").stat().st_mode) == stat.S_IMODE((tmp_path / "probe").stat().st_mode)


@pytest.mark.slow
def test_export_refuses_a_folder_with_other_files(runs, tmp_path, capsys):
    db, ids = runs
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    assert main(["export-model", ids["protonet"], str(target), "--db", str(db)]) == 2
    assert "not an empty folder" in capsys.readouterr().err and (target / "notes.txt").read_text() == "keep me"
    assert main(["export-model", ids["protonet"], str(tmp_path / "m"), "--db", str(db)]) == 0
    assert main(["export-model", ids["protonet"], str(tmp_path / "m"), "--db", str(db)]) == 0  # an earlier export is replaced


@pytest.mark.slow
def test_export_into_the_current_folder_holding_a_copied_run_file_deletes_nothing(runs, tmp_path, monkeypatch, capsys):
    """Issue 27 case 1: `export-model RUN .` once emptied a thesis folder."""
    db, ids = runs
    work = tmp_path / "thesis"
    (work / "src").mkdir(parents=True)
    (work / "thesis.tex").write_text("chapter 1")
    (work / "metalab_run.toml").write_text('name = "copied"')
    monkeypatch.chdir(work)
    assert main(["export-model", ids["protonet"], ".", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "current folder" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in work.iterdir()) == ["metalab_run.toml", "src", "thesis.tex"]
    assert main(["export-model", ids["protonet"], "model", "--db", str(db)]) == 0
    (work / "model" / "NOTES.md").write_text("mine")
    assert main(["export-model", ids["maml"], "model", "--db", str(db)]) == 0  # re-export keeps NOTES.md
    assert (work / "model" / "NOTES.md").read_text() == "mine" and (work / "model" / "model.safetensors").exists()


NER_SENTENCES = [["Ada", "Lovelace", "visited", "Paris", "and", "Rome"], ["a", "quiet", "day"] + ["river"] * 30]


def ner_run(tmp_path, tiny_model, mode):
    config = tmp_path / "ner.toml"
    config.write_text(
        f'name = "ner"\n[dataset]\npath = "bundled:entities"\n[task]\ntype = "token_classification"\nmode = "{mode}"\n'
        f'n_way = 2\nk_shot = 1\nquery = 1\ntest_episodes = 2\nval_episodes = 1\n[model]\nname = "{tiny_model}"\n'
        'max_length = 16\n[method]\nname = "' + ("protonet" if mode == "episodic" else "finetune") + '"\n'
        '[train]\nepisodes = 2\neval_every = 2\ndevice = "cpu"\n'
    )
    db = tmp_path / "runs.db"
    assert main(["run", str(config), "--db", str(db)]) == 0
    from engine.store import Store

    with Store(db) as store:
        return db, store.list_runs(limit=1)[0]["id"]


def metalab_word_vectors(db, run_id):
    """MetaLab's own per-word vectors (first word piece) for NER_SENTENCES, and the word batch."""
    from types import SimpleNamespace

    from engine.inference import load_trained_encoder
    from engine.tasks.token_classification import WordBatcher

    encoder = load_trained_encoder(db, run_id)
    dataset = SimpleNamespace(sentences=NER_SENTENCES, tags=[["O"] * len(s) for s in NER_SENTENCES])
    batch = WordBatcher(encoder, dataset)(list(range(len(NER_SENTENCES))))
    with torch.no_grad():
        return encoder(**batch), batch


@pytest.mark.slow
def test_an_episodic_ner_export_gives_metalabs_word_vectors_without_a_sentence_pipeline(tmp_path, tiny_model):
    from transformers import AutoModel

    db, run_id = ner_run(tmp_path, tiny_model, "episodic")
    assert main(["export-model", run_id, str(tmp_path / "m"), "--db", str(db)]) == 0
    files = {p.name for p in (tmp_path / "m").iterdir()}
    assert "modules.json" not in files and {"config.json", "model.safetensors", "README.md"} <= files
    expected, batch = metalab_word_vectors(db, run_id)
    exported = AutoModel.from_pretrained(tmp_path / "m", use_safetensors=True).eval()
    with torch.no_grad():
        hidden = exported(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    positions = batch["positions"]
    assert torch.allclose(hidden[positions[:, 0], positions[:, 1]], expected, atol=1e-5)
    card = (tmp_path / "m" / "README.md").read_text()
    assert "is_split_into_words" in card and "pipeline_tag: feature-extraction" in card and "Entity micro-F1 " in card


@pytest.mark.slow
def test_a_supervised_ner_export_is_a_token_classification_model_with_metalabs_logits(tmp_path, tiny_model):
    """The trained word head and IO labels as AutoModelForTokenClassification: MetaLab's logits to 1e-5."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

    from engine.inference import weights_dir
    from engine.training.checkpoints import load_checkpoint

    db, run_id = ner_run(tmp_path, tiny_model, "supervised")
    out = tmp_path / "m"
    assert main(["export-model", run_id, str(out), "--db", str(db)]) == 0
    vectors, batch = metalab_word_vectors(db, run_id)
    head = load_checkpoint(weights_dir(db, run_id))[0]["head"]
    expected = F.linear(vectors, head["weight"], head["bias"])

    model = AutoModelForTokenClassification.from_pretrained(out, use_safetensors=True).eval()
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    positions = batch["positions"]
    assert torch.allclose(logits[positions[:, 0], positions[:, 1]], expected, atol=1e-5)
    from engine.data.tagged import load_tagged_dataset

    types = load_tagged_dataset("bundled:entities").entity_types()
    assert list(model.config.id2label.values()) == ["O", *(f"I-{t}" for t in types)]
    card = (out / "README.md").read_text()
    assert "AutoModelForTokenClassification" in card and "pipeline_tag: token-classification" in card
    tagger = pipeline("token-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(out), aggregation_strategy="first")
    assert all(e["entity_group"] in types for e in tagger("Ada Lovelace visited Paris"))
