# anomalens: `make demo` and `make test` set everything up from a bare Python 3.11 + pip.
PYTHON ?= python3
VENV ?= .venv
# The CPU wheel lies on local disk here; elsewhere any torch >= 2.4 works.
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.anomalens-installed
DEMO_OUT ?= .demo

.PHONY: setup demo test results results-000-quick reproduce-000 results-002-quick reproduce-002 results-003-quick reproduce-003 results-001-quick reproduce-001 results-004-quick reproduce-004 results-vgg19 knn-speed report clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install "$(TORCH_SPEC)" || $(BIN)/pip install "torch>=2.4"
	$(BIN)/pip install -e ".[test]"
	@# AugNet ResNet-50 weights (augnet_patch_nnqed): only the file is read; the package itself would pull in
	@# OpenCV, and imports torchvision, hence --no-deps and never an import
	$(BIN)/pip install --no-deps "imgsim==0.1.2"
	@touch $(STAMP)

# Raw NN-QED (seed 000) on all ten MNIST classes, fetched for real, table beside the paper.
demo: setup
	@mkdir -p $(DEMO_OUT)
	@rm -f $(DEMO_OUT)/raw_nnqed-mnist-quick.jsonl
	$(BIN)/anomalens benchmark --method raw_nnqed --dataset mnist --protocol one_vs_rest \
		--classes all --seeds 0 --preset quick --out $(DEMO_OUT)/raw_nnqed-mnist-quick.jsonl
	$(BIN)/anomalens report $(DEMO_OUT)/raw_nnqed-mnist-quick.jsonl --html $(DEMO_OUT)/report.html
	@echo "HTML report: $(DEMO_OUT)/report.html"

test: setup
	$(BIN)/python -m pytest -q

# The committed benchmark files (resumable: rerun to finish an interrupted run).
results: setup
	$(BIN)/anomalens benchmark --method raw_nnqed --dataset mnist --classes all --seeds 0 \
		--preset quick --out benchmarks/results/raw_nnqed-mnist-quick.jsonl
	$(BIN)/anomalens benchmark --method raw_nnqed --dataset mnist --classes all --seeds 0-2 \
		--preset paper --out benchmarks/results/raw_nnqed-mnist-paper.jsonl
	$(BIN)/anomalens benchmark --method raw_nnqed --dataset fashion_mnist --classes all --seeds 0-2 \
		--preset paper --out benchmarks/results/raw_nnqed-fashion_mnist-paper.jsonl
	$(MAKE) report

# Seed 000 on MNIST at the CPU-sized preset (about 45 min on 2 cores), one seed.
results-000-quick: setup
	ANOMALENS="$(BIN)/anomalens" PRESET=quick SEEDS=0 DATASETS=mnist SWEEP=0 sh benchmarks/seed000.sh
	$(MAKE) report

# Seed 000 at the paper's settings, 3 seeds, MNIST + Fashion-MNIST + the m/c sweep: a GPU job.
# On the lent GPU machine (no venv): ANOMALENS="python3 -m anomalens" PYTHONPATH=src sh benchmarks/seed000.sh
reproduce-000: setup
	ANOMALENS="$(BIN)/anomalens" PYTHON="$(BIN)/python" PRESET=paper SEEDS=0-2 sh benchmarks/seed000.sh
	$(MAKE) report

# Seed 001 (industrial inspection) on the five synthetic_parts categories, CPU preset, one seed.
results-001-quick: setup
	ANOMALENS="$(BIN)/anomalens" PRESET=quick SEEDS=0 sh benchmarks/seed001.sh
	$(MAKE) report

# Seed 001 at the paper's settings, 3 seeds (KD-CAE up to 600 epochs at 128 px, NI-CAE at 256 px): a GPU job.
# With MVTec AD: DATASET=folder DATA_ROOT=$$ANOMALENS_MVTEC CATEGORIES=toothbrush,bottle,screw,leather,transistor
reproduce-001: setup
	ANOMALENS="$(BIN)/anomalens" PRESET=paper SEEDS=0-2 sh benchmarks/seed001.sh
	$(MAKE) report

# Seed 002 (GEOM), CPU-sized preset on Fashion-MNIST: about 7 minutes per class on 2 cores.
results-002-quick: setup
	ANOMALENS="$(BIN)/anomalens" PRESET=quick SEEDS=0 DATASETS=fashion_mnist sh benchmarks/seed002.sh
	$(MAKE) report

# GEOM at the paper's settings (Fashion-MNIST + MNIST, 3 seeds, both scores): a GPU job.
# On the lent GPU machine: ANOMALENS="python3 -m anomalens" PYTHONPATH=src BATCH="--batch-models 10" sh benchmarks/seed002.sh
reproduce-002: setup
	ANOMALENS="$(BIN)/anomalens" PRESET=paper SEEDS=0-2 sh benchmarks/seed002.sh
	$(MAKE) report

# Seed 003 (encoder + RealNVP, GANomaly): leave-one-out, one-vs-rest, pixels, MNIST <-> Fashion-MNIST.
results-003-quick: setup
	ANOMALENS="$(BIN)/anomalens" PRESET=quick SEEDS=0 sh benchmarks/seed003.sh
	$(MAKE) report

# On the lent GPU machine: ANOMALENS="python3 -m anomalens" PYTHONPATH=src BATCH="--batch-models 10" sh benchmarks/seed003.sh
reproduce-003: setup
	ANOMALENS="$(BIN)/anomalens" PRESET=paper SEEDS=0 sh benchmarks/seed003.sh
	$(MAKE) report

# Seed 004 (DPA) on Fashion-MNIST class 0 at the CPU preset (small grid, 600 iterations), one seed.
results-004-quick: setup
	ANOMALENS="$(BIN)/anomalens" PRESET=quick SEEDS=0 DATASETS=fashion_mnist CLASSES=0 sh benchmarks/seed004.sh
	$(MAKE) report

# Seed 004 at the authors' settings, 3 seeds, Fashion-MNIST + MNIST, dpa / dpa_l1 / dpa_unsup / dpa_pg: a GPU job.
# On the lent GPU machine: ANOMALENS="python3 -m anomalens" PYTHONPATH=src ANOMALENS_VGG19=.vgg19/<file> sh benchmarks/seed004.sh
reproduce-004: setup
	ANOMALENS="$(BIN)/anomalens" PRESET=paper SEEDS=0-2 sh benchmarks/seed004.sh
	$(MAKE) report

# Beyond the papers, nothing trained, frozen ImageNet VGG19 features: vgg19_nnqed on every class
# of MNIST and Fashion-MNIST (about 25 minutes per dataset on one CPU core) and vgg19_patch_nnqed
# on every synthetic_parts category, PQ bank and coreset bank (about 3 minutes each per category
# on 2 cores). PARTS=pooled|patch|coreset.
# On the lent GPU machine, with ImageNet-sized inputs too: sh benchmarks/device.sh 560 vgg19
results-vgg19: setup
	ANOMALENS="$(BIN)/anomalens" sh benchmarks/vgg19.sh
	$(MAKE) report

# Scoring speed of flat vs PQ vs fast-scan PQ (synthetic 10k/100k/1M + MNIST AUROC).
knn-speed: setup
	$(BIN)/python benchmarks/knn_speed.py --out benchmarks/results/knn_speed.json --markdown benchmarks/KNN_SPEED.md \
		$(if $(wildcard models/inception_cae_nnqed-mnist-quick),--models models/inception_cae_nnqed-mnist-quick)

report: setup
	$(BIN)/anomalens report benchmarks/results/*.jsonl --markdown benchmarks/RESULTS.md --readme README.md \
		--html build/report.html $(if $(wildcard benchmarks/results/scores),--scores benchmarks/results/scores)
	$(BIN)/python benchmarks/qed_vs_eed.py --markdown benchmarks/QED_VS_EED-paper.md > /dev/null
	$(BIN)/python benchmarks/pq_sweep.py --render-only --preset paper \
		--out benchmarks/results/sweeps/pq_sweep-fashion_mnist-paper.jsonl --markdown benchmarks/PQ_SWEEP-paper.md > /dev/null
	$(if $(wildcard benchmarks/results/sweeps/pq_sweep-mnist-paper.jsonl),$(BIN)/python benchmarks/pq_sweep.py --render-only --preset paper \
		--out benchmarks/results/sweeps/pq_sweep-mnist-paper.jsonl --markdown benchmarks/PQ_SWEEP-mnist-paper.md > /dev/null)
	$(BIN)/python benchmarks/calibration.py --render-only --out benchmarks/results/calibration/thresholds.jsonl \
		--markdown benchmarks/CALIBRATION.md
	@echo "HTML report with per-category figures: build/report.html"

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
