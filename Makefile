# The two Quickstart commands. Each installs what it needs first (.ci/install), once per environment.
VENV ?= .venv
STAMP := $(VENV)/.installed

.PHONY: install reproduce reproduce-cpu test bench docs

install: $(STAMP)

$(STAMP): settings.ini setup.py constraints.txt .ci/install
	bash .ci/install $(VENV)

reproduce: install  ## the main job at smoke scale (the plumbing): every smoke sweep file, then figures/smoke/
	$(VENV)/bin/rlpaper reproduce

reproduce-cpu: install  ## the published evidence: every cpu sweep file, then figures/ and figures/claims.md
	$(VENV)/bin/rlpaper reproduce --scale cpu

test: install  ## every notebook under nbdev_test, and the tests of tests/
	$(VENV)/bin/python -m pytest tests -v -p no:cacheprovider

docs: install  ## the docs site into _site/ (docs/build.py; notebooks rendered as stored, never executed)
	$(VENV)/bin/python docs/build.py
	@echo "view it: $(VENV)/bin/python -m http.server -d _site 8000, then open http://localhost:8000"

bench: install
	$(VENV)/bin/python bench/bench_batching.py
	$(VENV)/bin/python bench/bench_models.py
	$(VENV)/bin/python bench/train_overhead.py
	$(VENV)/bin/python bench/bench_video.py
	$(VENV)/bin/python bench/bench_sweep.py
	$(VENV)/bin/python bench/bench_stream.py
	$(VENV)/bin/python bench/bench_cli_start.py
