# The two commands a newcomer runs: `make demo` and `make test`. Both build their own .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test tools lint typecheck bench clean dist

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# External tools the tests drive for real (ssh-keygen, openssl, pdftotext, pdftoppm).
tools:
	bash .ci/install-tools

test: $(STAMP) tools lint typecheck
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

# mypy cannot follow setup.cfg's package_dir through the editable install, so it checks a tree of
# symlinks laid out the way the package installs: build/typecheck/evkit/{*, collector, manifests, ...}.
TYPECHECK := build/typecheck
typecheck: $(STAMP)
	rm -rf $(TYPECHECK)
	mkdir -p $(TYPECHECK)/evkit
	for f in evkit/*; do ln -s "$(CURDIR)/$$f" $(TYPECHECK)/evkit/; done
	for d in collector manifests report emulator; do ln -s "$(CURDIR)/$$d" $(TYPECHECK)/evkit/$$d; done
	cd $(TYPECHECK) && "$(CURDIR)/$(BIN)/mypy" --config-file ../../pyproject.toml --strict -p evkit.manifests -p evkit.report.outputs -p evkit.report.pdf -m evkit.report.rows \
		-p evkit.evidence -p evkit.report.engine -m evkit.report.analysis

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
