# Two commands on a fresh clone:  `make demo` (the main job) and `make test` (the test suite).
# Both create .venv and install deepshrink into it on first use.
# TORCH picks the torch wheel: the default is the CPU build this project is developed on;
# on a GPU machine use e.g. `make demo TORCH=torch` to keep the torch you already have.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
# timm and torchvision, for the tests of deepshrink.convert; --no-deps keeps the torch above.
VISION ?= "torchvision==0.28.0" "timm==1.0.31"
BIN = $(VENV)/bin

.PHONY: demo test install clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m pip install --quiet --no-deps $(VISION)
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/deepshrink demo

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
