"""Datasets: loading tables and tagged sentences, splitting classes, types or rows by seed, sampling
episodes, entity spans and scores. Torch-free."""

from engine.data.checks import Check, check_tagged_task, check_task, first_problem
from engine.data.episodes import Episode, EpisodeSampler, episodes_key
from engine.data.loaders import Table, TextDataset, bundled_datasets, guess_columns, load_dataset, load_table
from engine.data.entity_episodes import EntityEpisode, EntityEpisodeSampler, rows_without, split_sentences, split_types
from engine.data.spans import entity_counts, entity_f1, spans
from engine.data.splits import ClassSplit, RowSplit, split_classes, split_rows
from engine.data.tagged import TaggedDataset, load_tagged_dataset

__all__ = [
    "Check",
    "ClassSplit",
    "Episode",
    "EntityEpisode",
    "EntityEpisodeSampler",
    "TaggedDataset",
    "EpisodeSampler",
    "RowSplit",
    "Table",
    "TextDataset",
    "bundled_datasets",
    "check_tagged_task",
    "check_task",
    "entity_counts",
    "entity_f1",
    "episodes_key",
    "first_problem",
    "guess_columns",
    "load_dataset",
    "load_table",
    "load_tagged_dataset",
    "rows_without",
    "split_classes",
    "split_rows",
    "split_sentences",
    "split_types",
    "spans",
]
