# The two commands a newcomer runs: `make demo` and `make test`. Both build their own .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test tools bench clean dist

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# External tools the tests drive for real (ssh-keygen, openssl, pdftotext, pdftoppm).
tools:
	bash .ci/install-tools

test: $(STAMP) tools
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/evkit demo --out demo-output

# Release artefacts (release/README.md): wheel, sdist, the portable collector (.pyz), its SBOM,
# SHA256SUMS, and with RELEASE_KEY=PATH (passphrase in EVKIT_PASSPHRASE) its signature.
DIST_DIR ?= dist
dist: $(STAMP)
	$(BIN)/python release/build.py --out $(DIST_DIR) $(if $(RELEASE_KEY),--key $(RELEASE_KEY))

# Long benchmarks (minutes, GBs of scratch data); each prints ratios against the machine's floor.
bench: $(STAMP) tools
	$(BIN)/python bench/verify.py
	$(BIN)/python bench/collect.py
	$(BIN)/python bench/report.py
	$(BIN)/python bench/emulator_large.py

clean:
	rm -rf $(VENV) demo-output bench/out dist
