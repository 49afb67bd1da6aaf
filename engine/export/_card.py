"""The model card (``README.md``) of an exported run: what it is, how well it did, how to use it."""

from __future__ import annotations

import json
from typing import Any

import engine
from engine.text_escape import markdown_code, markdown_text, yaml_scalar

EPISODIC_USE = '''\
The classes are not fixed: they come from a few labelled examples (the support set)
given at use time, as in MetaLab's meta-test. Embed them, average per class, and give
each text the class whose mean is nearest (cosine), as `metalab-engine predict` does:

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer({folder})
support = {{"fruit": ["apple pie", "a ripe pear"], "water": ["the river bank", "rain on the lake"]}}
queries = ["apple juice", "a flooded field"]
means = {{label: model.encode(texts).mean(0) for label, texts in support.items()}}
scores = model.similarity(model.encode(queries), list(means.values()))  # cosine, one row per query
print([list(means)[i] for i in scores.argmax(1)])
```
'''

SUPERVISED_USE = '''\
The run trained a classification head over {n_labels} classes: `head.safetensors`
(`weight`, `bias`) on the mean-pooled embeddings before normalisation, with the class
names in `config.json` (`id2label`). Predictions as MetaLab makes them:

```python
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoTokenizer

tokenizer, encoder = AutoTokenizer.from_pretrained({folder}), AutoModel.from_pretrained({folder})
head = load_file({head_file})
batch = tokenizer(["a text to label"], truncation=True, max_length={max_length}, padding=True, return_tensors="pt")
with torch.no_grad():
    hidden = encoder(**batch).last_hidden_state
mask = batch["attention_mask"].unsqueeze(-1).float()
logits = ((hidden * mask).sum(1) / mask.sum(1)) @ head["weight"].T + head["bias"]
print([encoder.config.id2label[i] for i in logits.argmax(1).tolist()])
```

The same folder is also a sentence-transformers model for the (normalised) embeddings.
'''


TOKEN_SUPERVISED_USE = '''\
The run trained a token-classification head over `O` and {n_types} entity types, saved
as an `AutoModelForTokenClassification` (labels `O` and `I-TYPE`, in `config.json`).
Each word is labelled by its first word piece, as MetaLab scores it:

```python
from transformers import pipeline

tagger = pipeline("token-classification", model={folder}, aggregation_strategy="first")
print(tagger("Ada Lovelace lives in Paris"))  # entities grouped from runs of one type
```
'''

LM_USE = '''\
A causal language model (`AutoModelForCausalLM`), LoRA adapters merged:

```python
from transformers import AutoModelForCausalLM, AutoTokenizer

tokenizer, model = AutoTokenizer.from_pretrained({folder}), AutoModelForCausalLM.from_pretrained({folder})
batch = tokenizer(["The recipe starts with"], return_tensors="pt")
print(tokenizer.decode(model.generate(**batch, max_new_tokens=30)[0]))
```
'''


TOKEN_USE = '''\
A token-level run ({task_type}): each word is labelled by its first word piece's last
hidden state. The entity types come from a few tagged example sentences at use time, as
in MetaLab's meta-test (`metalab-engine predict` takes `{{"support": [{{"tokens", "tags"}}...]}}`):

```python
from transformers import AutoModel, AutoTokenizer

tokenizer, encoder = AutoTokenizer.from_pretrained({folder}), AutoModel.from_pretrained({folder})
batch = tokenizer([["Ada", "lives", "in", "Paris"]], is_split_into_words=True, return_tensors="pt")
hidden = encoder(**batch).last_hidden_state  # one vector per word piece; batch.word_ids(0) maps them to words
```
'''


PEFT_USE = '''\
This folder holds the LoRA adapter alone. Open it on top of the base model:

```python
from peft import PeftModel
from transformers import AutoModel

model = PeftModel.from_pretrained(AutoModel.from_pretrained({base}), {folder})
```

Embeddings are the mean of the last hidden states over the attention mask.
'''


def model_card(run: dict[str, Any], config: Any, *, supervised_labels: list[str] | None, adapter_only: bool, folder: str = ".") -> str:
    final = run.get("final_metrics") or {}
    task = config.task
    if task.mode == "supervised":
        task_text = f"supervised {task.type} over {len(supervised_labels or [])} classes"
    else:
        task_text = f"{task.type}, episodic {task.n_way}-way {task.k_shot}-shot ({task.query} queries per class)"
    # the run's name, model and data are the user's text: quoted in YAML, escaped in Markdown
    lines = [
        "---",
        "library_name: " + _library(config, adapter_only),
        "pipeline_tag: " + _pipeline_tag(config, adapter_only),
        "tags:",
        "- metalab",
        f"- {yaml_scalar(config.method.name)}",
        "---",
        "",
        f"# {markdown_text(run.get('name') or 'MetaLab run')}",
        "",
        f"Trained with MetaLab {engine.__version__}.",
        "",
        "| | |",
        "|---|---|",
        f"| base model | {markdown_code(config.model.name)} |",
        f"| method | {markdown_text(config.method.name)} |",
        f"| data | {markdown_code(config.dataset.path)} |",
        f"| task | {markdown_text(task_text)} |",
        f"| N / K | {task.n_way} / {task.k_shot} |" if task.mode != "supervised" else "| N / K | - (supervised) |",
        f"| meta-test result | {_result(final, task.type)} |",
        f"| max length | {config.model.max_length} tokens |",
        f"| run id | {markdown_code(run['id'])} |",
        f"| MetaLab version | {engine.__version__} |",
        "",
        "The run's full configuration is `metalab_run.toml` (`metalab-engine run metalab_run.toml` repeats it).",
        "",
        "## Use",
        "",
        "",
    ]
    return "\n".join(lines) + _use(config, supervised_labels, adapter_only, folder)


def _use(config: Any, supervised_labels: list[str] | None, adapter_only: bool, folder_path: str) -> str:
    task_type = config.task.type
    # the examples are Python a user copies: paths and names go in as string literals, quotes escaped
    folder = json.dumps(folder_path)
    if adapter_only:
        return PEFT_USE.format(base=json.dumps(config.model.name), folder=folder)
    if task_type == "language_modeling":
        return LM_USE.format(folder=folder)
    if task_type != "classification":
        if supervised_labels:
            return TOKEN_SUPERVISED_USE.format(n_types=len(supervised_labels) - 1, folder=folder)
        return TOKEN_USE.format(task_type=task_type, folder=folder)
    if supervised_labels:
        return SUPERVISED_USE.format(n_labels=len(supervised_labels), folder=folder, max_length=config.model.max_length,
                                     head_file=json.dumps(f"{folder_path}/head.safetensors"))
    return EPISODIC_USE.format(folder=folder)


def _library(config: Any, adapter_only: bool) -> str:
    if adapter_only:
        return "peft"
    return "sentence-transformers" if config.task.type == "classification" else "transformers"


def _pipeline_tag(config: Any, adapter_only: bool) -> str:
    if adapter_only:
        return "feature-extraction"
    if config.task.type == "language_modeling":
        return "text-generation"
    if config.task.type == "classification":
        return "sentence-similarity"
    return "token-classification" if config.task.mode == "supervised" else "feature-extraction"


def _result(final: dict[str, Any], task_type: str) -> str:
    """The run's headline meta-test metric (accuracy, entity F1, perplexity) with its CI."""
    from engine import tasks

    name = final.get("headline_metric") or "test_accuracy"
    value = final.get(name)
    if value is None:
        return "not measured"
    ci = final.get(f"{name}_ci95")
    short = name.removeprefix("test_")
    titles = {m.name: m.title for m in tasks.get(task_type).metrics} if task_type in tasks.TASK_TYPES else {}
    label = titles.get(short, short.replace("_", " "))
    if final.get("headline_direction") == "minimize":  # perplexity, loss: plain numbers
        text = f"{label} {value:.2f}" + (f" ± {ci:.2f} (95% CI)" if ci is not None else "")
    else:
        text = f"{label} {value * 100:.2f}%" + (f" ± {ci * 100:.2f} (95% CI)" if ci is not None else "")
    episodes = final.get("test_episodes")
    return text + (f", {episodes} episodes" if episodes else "")
