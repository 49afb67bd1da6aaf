"""Datasets: loading tables, splitting classes or rows by seed, sampling episodes. Torch-free."""

from engine.data.checks import Check, check_task, first_problem
from engine.data.episodes import Episode, EpisodeSampler, episodes_key
from engine.data.loaders import Table, TextDataset, bundled_datasets, guess_columns, load_dataset, load_table
from engine.data.splits import ClassSplit, RowSplit, split_classes, split_rows

__all__ = [
    "Check",
    "ClassSplit",
    "Episode",
    "EpisodeSampler",
    "RowSplit",
    "Table",
    "TextDataset",
    "bundled_datasets",
    "check_task",
    "episodes_key",
    "first_problem",
    "guess_columns",
    "load_dataset",
    "load_table",
    "split_classes",
    "split_rows",
]
