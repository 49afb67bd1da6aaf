"""The Qt-free parts of the charts: metric kinds and defaults, colours, smoothing, speed, SVG."""

from __future__ import annotations

import numpy as np

from gui.chart_colors import run_colors, series_color
from gui.metric_kinds import (
    default_picks,
    family,
    final_partner,
    grouped,
    headline,
    higher_is_better,
    is_final,
    kind,
    log_by_default,
    smoothable,
)
from gui.progress_rate import PhaseRate, format_rate
from gui.smoothing import Ema, smooth
from gui.svg_bake import bake_transforms
from tests.gui.metric_runs import MAML_METRICS, PROTONET_METRICS


def test_maml_metrics_group_into_kinds_and_families():
    groups = grouped(MAML_METRICS)
    assert list(groups) == ["loss", "accuracy / F1", "inner loop", "learning rate"]
    assert len(groups["inner loop"]) == 10 and groups["learning rate"] == ["lr"]
    assert family("inner_query_loss_before") == family("inner_query_loss_after") == "inner_query_loss"
    assert family("inner_support_loss_step_0") == family("inner_support_loss_step_5") == "inner_support_loss"
    assert family("val_macro_f1") == family("test_macro_f1") == "macro_f1"
    assert len({family(n) for n in MAML_METRICS}) == 9


def test_default_picks_follow_the_method():
    assert default_picks(MAML_METRICS) == ["train_loss", "val_accuracy", "test_accuracy",
                                           "inner_query_accuracy_before", "inner_query_accuracy_after"]
    assert default_picks(PROTONET_METRICS) == ["train_loss", "val_accuracy", "test_accuracy"]
    assert default_picks(["grad_norm", "tokens"]) == ["grad_norm", "tokens"]  # nothing known: everything


def test_future_task_metrics_are_read_by_pattern():
    # what an NER run logs: its token accuracy is mostly the O tag, entity F1 is the headline
    ner = ["train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_f1", "test_f1", "val_precision", "val_recall"]
    assert headline(ner) == "val_f1" and default_picks(ner) == ["train_loss", "val_f1", "test_f1"]
    assert higher_is_better("test_f1") is True and kind("test_f1") == "accuracy / F1"
    lm = ["train_loss", "val_perplexity", "test_perplexity"]
    assert higher_is_better("test_perplexity") is False and kind("val_perplexity") == "loss"
    assert headline(lm) == "val_perplexity" and is_final("test_perplexity")
    assert final_partner("test_perplexity") == "val_perplexity"


def test_a_language_model_is_judged_by_perplexity():
    """Its token accuracy rises too, but the headline and the inner-loop pair are perplexity,
    and perplexity plots start on a log scale (it is the exponential of a loss)."""
    lm = ["train_loss", "train_accuracy", "val_perplexity", "val_loss", "val_token_accuracy", "test_perplexity",
          "inner_query_loss_before", "inner_query_loss_after", "inner_query_accuracy_before", "inner_query_accuracy_after",
          "inner_query_perplexity_before", "inner_query_perplexity_after", "inner_support_perplexity_step_0"]
    assert headline(lm) == "val_perplexity"
    assert default_picks(lm) == ["train_loss", "val_perplexity", "test_perplexity",
                                 "inner_query_perplexity_before", "inner_query_perplexity_after"]
    assert kind("inner_query_perplexity_after") == "inner loop" and higher_is_better("inner_query_perplexity_after") is False
    # no validation curve (the LM quickstart's eval_every = 0): the final figure is still shown
    assert default_picks(["lr", "train_loss", "train_accuracy", "test_perplexity"]) == ["train_loss", "test_perplexity"]
    assert log_by_default(family("val_perplexity")) and log_by_default(family("inner_query_perplexity_before"))
    assert not log_by_default(family("val_loss"))


def test_schedules_and_final_metrics_are_not_smoothed():
    assert smoothable("train_loss") and smoothable("inner_query_loss_after")
    assert not smoothable("lr") and not smoothable("learning_rate") and not smoothable("test_accuracy")


def test_colours_do_not_depend_on_arrival_order():
    assert series_color("train_loss") == series_color("train_accuracy")  # the role decides
    assert series_color("val_loss") != series_color("train_loss")
    assert series_color("inner_query_loss_before") != series_color("inner_query_loss_after")
    ids = [f"run{i:02d}" for i in range(20)]
    colors = run_colors(ids)
    assert len(set(colors.values())) == 20  # never shared within a comparison
    assert run_colors(["a1", "b2"])["a1"] == run_colors(["a1", "c3"])["a1"]  # the same run, the same colour


def test_one_smoothing_whole_or_incremental():
    values = np.array([1.0, 3.0, np.nan, 5.0, 2.0])
    ema = Ema(0.5)
    ema.update(values[:2])
    assert np.allclose(ema.update(values), smooth(values, 0.5))
    raw = [0.5 * 1.0]
    for v in (3.0, 3.0, 5.0, 2.0):  # NaN carries the last value
        raw.append(0.5 * raw[-1] + 0.5 * v)
    assert np.allclose(smooth(values, 0.5), [r / (1 - 0.5 ** (i + 1)) for i, r in enumerate(raw)])
    assert smooth(values, 0.0) is values


def test_speed_and_eta_are_measured_per_phase():
    rate = PhaseRate()
    # training: 2 episodes a second
    for t in range(0, 11):
        rate.update({"done": 2 * t, "total": 100, "phase": "train"}, now=float(t))
    assert abs(rate.rate() - 2.0) < 1e-9 and abs(rate.eta() - 40.0) < 1e-9
    # meta-test after 10 min of training: its own clock, 0.5 episodes a second, 100 to do
    rate.update({"done": 1, "total": 100, "phase": "test"}, now=600.0)
    assert rate.rate() is None and rate.eta() is None  # one event: measuring
    rate.update({"done": 11, "total": 100, "phase": "test"}, now=620.0)
    assert abs(rate.rate() - 0.5) < 1e-9 and abs(rate.eta() - 178.0) < 1e-9


def test_training_keeps_its_clock_across_a_validation():
    rate = PhaseRate()
    for t in range(0, 11):  # 1 episode a second
        rate.update({"done": t, "total": 100, "phase": "train"}, now=float(t))
    for done in range(1, 31):  # a validation of 30 episodes in between, 1 a second
        rate.update({"done": done, "total": 30, "phase": "val"}, now=10.0 + done)
    assert abs(rate.eta() - 0.0) < 1e-9 and rate.phase == "val"
    rate.update({"done": 11, "total": 100, "phase": "train"}, now=41.0)
    assert rate.rate() is not None  # no "measuring" after each validation: the train clock went on
    assert abs(rate.rate() - 11 / 41) < 1e-9
    rate.update({"done": 1, "total": 30, "phase": "val"}, now=42.0)  # the next validation: a new clock
    assert rate.rate() is None


def test_slow_runs_read_as_seconds_per_episode():
    assert format_rate(0.04) == "25 s/episode"
    assert format_rate(0.5) == "2.0 s/episode"
    assert format_rate(3.25) == "3.2 episodes/s"
    assert format_rate(0.0) == "" and format_rate(None) == ""


def test_svg_transforms_are_baked_into_the_coordinates():
    svg = ('<g fill="none" stroke="#2ca02c" transform="matrix(20,0,0,-100,50,500)">\n'
           '<path vector-effect="non-scaling-stroke" fill-rule="evenodd" d="M0,2 L1,1 L2,0.5 "/>\n</g>')
    out = bake_transforms(svg)
    assert 'transform="matrix(1,0,0,1,0,0)"' in out
    assert 'd="M50,300 L70,400 L90,450 "' in out
    text = '<g transform="matrix(2,0,0,2,0,0)"><text>x</text><path vector-effect="non-scaling-stroke" d="M1,1"/></g>'
    assert bake_transforms(text) == text  # text relies on the group's transform: left alone


def test_values_equal_but_for_float32_rounding_get_a_readable_y_range():
    """A run and its TensorBoard copy differ in the 8th digit: the axis must not be 1e-8 tall."""
    from gui.widgets.plot_grid import padded_y

    low, high = padded_y((0.7254, 0.7254 + 3e-8))
    assert high - low > 0.01 and low < 0.7254 < high
    low, high = padded_y((0.5, 0.9))  # real spread: a margin around it, no more
    assert 0.4 < high - low < 0.6 and low < 0.5 and high > 0.9
