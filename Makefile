# Set-up on a fresh machine is two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run test demo screenshots clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: any requirement torch 2.13.0 does not satisfy would pull GB of CUDA wheels.
$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Qt's window needs X11/xcb system libraries the wheels do not bundle: installed here where
# the machine allows (root or sudo without a password, apt-get), else one line says how.
run: install
	$(PYTHON) -m gui.system_libs --install
	$(VENV)/bin/metalab

demo: install
	$(VENV)/bin/metalab-engine run examples/quickstart.toml

# Two workers (CI has two cores), each torch on one thread so they do not fight over them.
# A file's tests stay on one worker, so a module-scoped fixture is built once (loadgroup
# would not do: pytest 9.2's node ids break xdist 3.8's groups, pytest-xdist#1386).
TEST_WORKERS ?= 2
test: install
	$(VENV)/bin/lint-imports
	QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 $(PY) -m pytest -q -p no:cacheprovider --durations=30 -n $(TEST_WORKERS) --dist loadfile

# Real screenshots of every page under a virtual X server, into docs/screenshots/.
screenshots: install
	xvfb-run -a -s "-screen 0 1400x900x24" $(PY) scripts/screenshots.py
	xvfb-run -a -s "-screen 0 1400x900x24" $(PY) scripts/screenshots_browse.py
	xvfb-run -a -s "-screen 0 1400x900x24" $(PY) scripts/screenshots_pages.py
	xvfb-run -a -s "-screen 0 1400x900x24" $(PY) scripts/screenshots_inspect.py
	xvfb-run -a -s "-screen 0 1400x900x24" $(PY) scripts/screenshots_lm.py

clean:
	rm -rf $(VENV) build *.egg-info
