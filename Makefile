# Two commands do all set-up on a fresh machine (see README.md):
#   make demo   compile and run the ticketing example end to end
#   make test   lint, type-check, check the example's compiled files, run the tests (twice:
#               MQWIRE_FASTPATH=on, then off)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: demo test lint typecheck golden clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/ticketing/demo.py

# The suite runs twice: every fast path forced on, then pika's public behaviour only.
test: lint typecheck $(STAMP)
	$(BIN)/mq-compile examples/ticketing/topology.yaml --check
	MQWIRE_FASTPATH=on $(BIN)/python -m pytest
	MQWIRE_FASTPATH=off $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# mypy follows the installed names (mqwire.topology, ...): give it a tree of links to them.
typecheck: $(STAMP)
	mkdir -p build/typecheck/mqwire
	for p in topology compiler runtime schemas; do ln -sfn ../../../$$p build/typecheck/mqwire/$$p; done
	ln -sfn ../../../integrations/otel build/typecheck/mqwire/otel
	ln -sfn ../../../integrations/pyramid build/typecheck/mqwire/pyramid
	ln -sfn ../../../entry/__main__.py build/typecheck/mqwire/__main__.py
	ln -sfn ../../../integrations/testing build/typecheck/mqwire/testing
	cd build/typecheck && ../../$(BIN)/mypy --config-file ../../pyproject.toml \
		-p mqwire.topology -p mqwire.compiler -p mqwire.runtime -m mqwire.__main__ \
		-p mqwire.testing -p mqwire.otel -p mqwire.pyramid

# After an intended change of compiled output: rewrite the golden files, then review the diff.
golden: $(STAMP)
	MQWIRE_UPDATE_GOLDEN=1 $(BIN)/python -m pytest tests/compiler/test_golden.py tests/topology/test_error_corpus.py
	$(BIN)/mq-compile examples/ticketing/topology.yaml

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
