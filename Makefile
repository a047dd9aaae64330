# Two commands on a fresh clone:  `make demo` (the main job) and `make test` (the test suite).
# Both create .venv and install deepshrink into it on first use.
# TORCH picks the torch wheel: the default is the CPU build this project is developed on;
# on a GPU machine use e.g. `make demo TORCH=torch` to keep the torch you already have.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN = $(VENV)/bin

.PHONY: demo test install dist-check clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/deepshrink demo

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

# The wheel and sdist as a user gets them: built, the wheel installed into a fresh venv (CPU torch
# first, so pip does not reach for a CUDA build), then the entry point and an import.
DIST_VENV ?= build/dist-venv
dist-check: $(BIN)/.installed
	rm -rf dist $(DIST_VENV) && mkdir -p build
	$(BIN)/python -m build --sdist --wheel --outdir dist . > build/dist.log
	$(PYTHON) -m venv $(DIST_VENV)
	$(DIST_VENV)/bin/python -m pip install --quiet "$(TORCH)"
	$(DIST_VENV)/bin/python -m pip install --quiet dist/deepshrink-*.whl
	cd build && dist-venv/bin/deepshrink --help > /dev/null
	cd build && dist-venv/bin/deepshrink models > /dev/null
	cd build && dist-venv/bin/python -c "import deepshrink, deepshrink.models, deepshrink.train, deepshrink.study; \
	  m = deepshrink.create_model('drsn_cw_paper6', num_classes=3); print('wheel ok:', deepshrink.__version__, type(m).__name__)"
	tar -tzf dist/deepshrink-*.tar.gz | grep -q "/LICENSE$$"
	$(BIN)/python -c "import glob, zipfile; n = zipfile.ZipFile(glob.glob('dist/*.whl')[0]).namelist(); \
	  assert 'deepshrink/py.typed' in n and any(x.endswith('licenses/LICENSE') for x in n), 'wheel lacks py.typed or LICENSE'"

clean:
	rm -rf $(VENV) .pytest_cache build dist
