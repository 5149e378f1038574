# Every target CI or a user needs; `make test` installs what it needs first.
VENV ?= .venv
PY := $(VENV)/bin/python
T2I := $(VENV)/bin/t2i
STAMP := $(VENV)/.installed

.PHONY: install test test-slow demo study study-report study-paper study-reed parity lint bench gpu-check tensorboard clean

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,ray,slurm]'
	touch $(STAMP)

test: install
	$(PY) -m pytest -q

test-slow: install
	$(PY) -m pytest -q -m slow

# The main job: a small but real study (three ablations, quick budget) and its comparison plot.
demo: install
	$(T2I) sweep budget=quick sweep.name=demo '+ablation=baseline,shuffle,lrx10'
	$(T2I) plot-mae runs/demo

# The recorded study (experiments/ablation_study): conf/study/reference.yaml's series and seeds at its budget.
# Resumable: rerun to continue. Its report comes from the live runs, or from the records kept beside it.
study: install
	-$(T2I) sweep +study=reference sweep.workers=2 trainer.threads=1
	$(MAKE) study-report

# Parity with the reference's own code (targets in t2i/sweeps/parity.py): LRx10 for 60 epochs and the study's Baseline
# for 250, three seeds each, after the 480-epoch Part 1. Resumable; exit 3 while runs are missing.
parity: install
	-$(T2I) sweep '+ablation=lrx10' seed=0,1,2 trainer.epochs=60 sweep.name=parity sweep.workers=2 trainer.threads=1
	-$(T2I) sweep '+ablation=baseline' seed=0,1,2 sweep.name=ablation_study sweep.workers=2 trainer.threads=1
	$(T2I) parity runs

STUDY_DIR := experiments/ablation_study

# The reference's 1,500 epochs for every series of its figure (seed 0). 2-3 h a run on the 2-core machine, two side
# by side at one thread each (WGAN-GP is the slowest). Resumable: rerun after an interruption and finished epochs
# are kept; a finished run of fewer epochs copied with its checkpoint into runs/paper/<series>/seed=0 is continued,
# not retrained (IncrementVocab's curriculum scales with the budget, so it always starts over).
PAPER_SERIES := baseline,lrx10,wgan,shuffle_mbd,shuffle,mbd,adam_params,img_noise,full_vocab,increment_vocab,rnn_init
study-paper: install
	-$(T2I) sweep '+ablation=$(PAPER_SERIES)' seed=0 budget=paper sweep.name=paper sweep.workers=2 \
		trainer.threads=1
	$(T2I) report $(or $(wildcard runs/paper),experiments/paper_budget/runs) -o experiments/paper_budget \
		--at-epoch 100 --at-epoch 250 --at-epoch 500 --at-epoch 1000 --at-epoch 1500 --keep-runs --findings findings.md \
		--title 'The paper budget (1,500 epochs)'

# Reed et al.'s claims (conf/study/reed.yaml): the 2x2 on the style data with the hold-out, the Baseline under the
# hold-out, the unconditional GAN, and Reed's full model with minibatch discrimination (a probe, not Reed's).
# 19 runs of 250 epochs. Resumable: rerun to continue.
study-reed: install
	-$(T2I) sweep +study=reed sweep.workers=2 trainer.threads=1
	$(T2I) report $(or $(wildcard runs/reed_study),experiments/reed_study/runs) -o experiments/reed_study --study reed \
		--at-epoch 50 --at-epoch 100 --at-epoch 250 --keep-runs --title "Reed et al. 2016, measured exactly"

study-report: install
	$(T2I) report $(or $(wildcard runs/ablation_study),$(STUDY_DIR)/runs) -o $(STUDY_DIR) --study reference \
		--at-epoch 25 --at-epoch 50 --at-epoch 100 --at-epoch 150 --at-epoch 200 --at-epoch 250 \
		--threshold 0.5 --threshold 0.3 --threshold 0.2 --findings findings.md --keep-runs \
		--title 'Ablation study: which tricks of the text-conditional GAN matter'

lint: install
	$(VENV)/bin/ruff check t2i tests experiments
	$(VENV)/bin/ruff format --check t2i tests experiments

bench: install
	$(T2I) bench

# On a machine with a GPU (the device tool): device-relevant tests, the bench, 4 runs sharing the GPU and a timed
# 1,500-epoch LRx10, each time-boxed, in under 8 minutes; one JSON ($OUT/gpu_check.json or experiments/bench/).
gpu-check: install
	$(PY) experiments/bench/gpu_check.py

tensorboard: install
	$(VENV)/bin/tensorboard --logdir $(or $(RUNS),runs)

clean:
	rm -rf $(VENV) runs
