"""Screenshots of the language-modelling pages at 1024 x 700, into docs/screenshots/: New
experiment with the LM task (documents, domains, greyed-out methods) and Try a model on a
real LM run (a continued prompt, perplexity before and after adapting).

    xvfb-run -a -s "-screen 0 1400x900x24" python scripts/screenshots_lm.py

The run is the LM quickstart cut to a few episodes, trained by the engine in a subprocess
(the bundled tiny GPT-2: its text is noise, the screenshots show the pages, not a model).
Each page's minimum width is printed: none may ask for more than the window has.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _screens import OUT, ROOT, SIZE, settle, wait  # noqa: E402,F401  (the scripts' shared helpers)



def train_lm_run(db: Path) -> str:
    sets = ["train.episodes=6", "task.test_episodes=3", "train.eval_untrained=false"]
    result = subprocess.run(
        [sys.executable, "-m", "engine", "run", "examples/lm_quickstart.toml", "--db", str(db),
         *[a for s in sets for a in ("--set", s)]],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def main() -> None:
    os.environ["METALAB_DATA"] = tempfile.mkdtemp()
    from PySide6.QtWidgets import QApplication

    from engine.config import RunConfig
    from gui.main_window import PAGES, MainWindow

    db = Path(tempfile.mkdtemp()) / "runs.db"
    run_id = train_lm_run(db)
    app = QApplication.instance() or QApplication([])
    win = MainWindow(db_path=db, restore=False)
    win.resize(*SIZE)
    win.show()
    OUT.mkdir(parents=True, exist_ok=True)
    shots = []

    def shot(widget, name):  # noqa: ANN001, ANN202
        wait(app, lambda: False, 0.3)
        widget.grab().save(str(OUT / f"{name}.png"))
        shots.append(OUT / f"{name}.png")
        page = win.stack.currentWidget()
        print(f"{name}: page minimum width {page.minimumSizeHint().width()} px, window {win.width()} px")

    page = win.new_page
    page.set_config(RunConfig.load(ROOT / "examples" / "lm_quickstart.toml").with_values({"train.device": "cpu"}))
    wait(app, lambda: not page.dataset_panel.is_busy() and page.model_panel.model_kind() is not None)
    page.validate()
    shot(win, "new_experiment_lm")
    page.settings_scroll.ensureWidgetVisible(page.method, 0, 300)
    page.method.showPopup()  # the greyed-out methods, with the reason as a tooltip
    shot(page.method.view().window(), "new_experiment_lm_methods")
    page.method.hidePopup()

    win.show_page(PAGES.index("Try a model"))
    try_page = win.try_page
    try_page.refresh()
    wait(app, lambda: try_page.run_combo.findData(run_id) >= 0)
    try_page.run_combo.setCurrentIndex(try_page.run_combo.findData(run_id))
    lm = try_page.lm
    lm.stop_at_end.setChecked(False)
    lm.max_new_tokens.setValue(16)
    lm.sample.setChecked(True)
    lm.generate()
    wait(app, lambda: lm.generate_button.isEnabled())
    lm.score()
    wait(app, lambda: lm.score_button.isEnabled())
    shot(win, "try_model_lm")
    win.close()
    print("\n".join(str(p) for p in shots))


if __name__ == "__main__":
    main()
