# qcompile: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup setup-test setup-peers demo test test-slow bench bench-peers corpus fuzz clean

# core install (what the demo needs)
$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

# core + test extras (pytest, hypothesis, qonnx as the QONNX reference executor, scikit-learn)
$(VENV)/.test: $(VENV)/.core
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# test extras + peers (rule4ml with tensorflow/keras/torch-geometric; torch pinned to the CPU build)
$(VENV)/.peers: $(VENV)/.test
	$(BIN)/pip install --quiet -e '.[peers]'
	touch $@

setup: $(VENV)/.core
setup-test: $(VENV)/.test
setup-peers: $(VENV)/.peers

# Compile the example MLP for the ZCU104, check the C++ bit for bit against the simulator on
# the held-out digits, and compare the simulator with the float model (accuracy on labels).
demo: setup
	$(BIN)/qcompile examples/digits_mlp.onnx --target zcu104 --reuse-factor 4 \
		--calib examples/digits_calib_x.npy -o build/digits_mlp --force \
		--data examples/digits_test_x.npy --csim --csim-n 360
	$(BIN)/qcompile verify examples/digits_mlp.onnx --target zcu104 --reuse-factor 4 \
		--calib examples/digits_calib_x.npy --data examples/digits_test_x.npy --labels examples/digits_test_y.npy

test: setup-test
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# full-size models and long C simulations
test-slow: setup-test
	$(BIN)/python -m pytest -q -n 2 -m slow

# ratios against peers measured in the same run (rule4ml skipped unless installed: bench-peers)
bench: setup-test
	$(BIN)/python benchmarks/bench_spine.py
	$(BIN)/python benchmarks/bench_estimate.py
	$(BIN)/python benchmarks/bench_fit.py
	$(BIN)/python benchmarks/bench_calibration.py

bench-peers: setup-peers
	$(BIN)/python benchmarks/bench_spine.py
	$(BIN)/python benchmarks/bench_estimate.py
	$(BIN)/python benchmarks/bench_fit.py

# the model corpus (benchmarks/corpus): ~120 exported models compiled and checked; reports the
# compile rate, refusals, crashes and wrong designs (~20 minutes)
$(VENV)/.corpus: $(VENV)/.test
	$(BIN)/pip install --quiet -e '.[corpus]'
	touch $@

corpus: $(VENV)/.corpus
	$(BIN)/python benchmarks/corpus/collect.py
	$(BIN)/python benchmarks/corpus/run.py --jobs 2

# the mutation fuzz (compiler/validation/fuzz.py): 5,000 seeded mutations of the dev models through
# compile, write, reload, simulate and the reference executor; fails on any crash, hang or wrong
# design (~25 minutes on 2 cores; make test runs 40 cases)
fuzz: setup-test
	$(BIN)/python benchmarks/fuzz.py --count 5000 --jobs 2 --seed 0

clean:
	rm -rf build .pytest_cache
