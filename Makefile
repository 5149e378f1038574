# Every target CI or a user needs; `make test` installs what it needs first.
VENV ?= .venv
PY := $(VENV)/bin/python
T2I := $(VENV)/bin/t2i
STAMP := $(VENV)/.installed

.PHONY: install test test-slow demo study study-report lint bench tensorboard clean

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,ray]'
	touch $(STAMP)

test: install
	$(PY) -m pytest -q

test-slow: install
	$(PY) -m pytest -q -m slow

# The main job: a small but real study (three ablations, quick budget) and its comparison plot.
demo: install
	$(T2I) sweep budget=quick sweep.name=demo '+ablation=baseline,shuffle,lrx10'
	$(T2I) plot-mae runs/demo

# The recorded study (experiments/ablation_study): every series at the default budget (250 epochs), then
# extra seeds for the baseline and the series whose differences are small. Resumable: rerun to continue.
STUDY := sweep.name=ablation_study sweep.workers=2 trainer.threads=1
study: install
	-$(T2I) sweep $(STUDY)
	-$(T2I) sweep $(STUDY) '+ablation=baseline,adam_params,img_noise,mbd' seed=1,2
	$(MAKE) study-report

study-report: install
	$(T2I) plot-mae runs/ablation_study -o experiments/ablation_study/mae.png
	$(PY) experiments/ablation_study/collect.py runs/ablation_study experiments/ablation_study
	$(PY) experiments/ablation_study/colours.py runs/ablation_study experiments/ablation_study
	$(PY) experiments/ablation_study/render_readme.py experiments/ablation_study

lint: install
	$(VENV)/bin/ruff check t2i tests

bench: install
	$(T2I) bench

tensorboard: install
	$(VENV)/bin/tensorboard --logdir $(or $(RUNS),runs)

clean:
	rm -rf $(VENV) runs
