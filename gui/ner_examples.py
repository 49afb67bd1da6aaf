"""Try a model on an NER run: the typed example sentences as the engine's predict request,
and a run's own meta-test support as ready-made examples. Qt-free."""

from __future__ import annotations

from typing import Any

from engine.data.entity_episodes import EntityEpisodeSampler, split_types
from engine.data.markup import marked, parse_marked, tokenize
from engine.data.spans import spans
from engine.data.tagged import load_tagged_dataset

TOKEN_TASK = "token_classification"
EXAMPLE_SUPPORT = """[Mara Quillon](PERSON) flew from [Port Alder](CITY) to [Kenya](COUNTRY) last week.
[Tobias Fenwright](PERSON) still lives in [Velmora](CITY), near the border with [Chile](COUNTRY).
My aunt moved to [Dunmere](CITY) after a year in [Norway](COUNTRY)."""
EXAMPLE_QUERY = """Ilse Varga took the train from Kessing to Austria.
We met Jonah Petrakis in Brightwater before he left for Japan."""


def task_type(config: dict[str, Any]) -> str:
    return str(config.get("task", {}).get("type", "classification"))


def support_request(text: str) -> list[dict[str, list[str]]]:
    """One marked sentence per line (``[words](TYPE)``); blank lines are skipped."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            tokens, tags = parse_marked(line)
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from None
        out.append({"tokens": tokens, "tags": tags})
    types = {span.type for item in out for span in spans(item["tags"])}
    if not types:
        raise ValueError("mark at least one entity, e.g. [Ada Lovelace](PERSON)")
    return out


def query_request(text: str) -> list[str]:
    """One plain sentence per line, its words and punctuation split by spaces (the engine splits
    a query on white space, so "Velmora." becomes the two words the examples would have)."""
    return [" ".join(tokenize(line)) for line in text.splitlines() if tokenize(line)]


def run_examples(config: dict[str, Any], *, queries: int = 5) -> tuple[str, str]:
    """(marked support, plain queries) of the run's first meta-test episode: the sentences and
    held-out types the run was scored on, so the answer can be checked by eye."""
    dataset_cfg, task = config.get("dataset", {}), config.get("task", {})
    data = load_tagged_dataset(dataset_cfg.get("path", ""), dataset_cfg.get("text_column", ""), dataset_cfg.get("label_column", ""))
    seed = int(task.get("split_seed", 0))
    split = split_types(
        data.tags, test_fraction=float(task.get("meta_test_fraction", 0.5)),
        val_fraction=float(task.get("meta_val_fraction", 0.3)), seed=seed,
    )
    n_way = min(int(task.get("n_way", 5)), len(split.test))
    sampler = EntityEpisodeSampler(
        data.tags, split.test, n_way=n_way, k_shot=int(task.get("k_shot", 1)), query=int(task.get("query", 5)),
        seed=seed, stream="test",
    )
    episode = sampler.episode(0)
    support = [marked(data.sentences[s], tags) for s, tags in zip(episode.support, episode.support_tags)]
    query = [" ".join(data.sentences[s]) for s in episode.query[:queries]]
    return "\n".join(support), "\n".join(query)
