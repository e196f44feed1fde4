"""Validation of the cost model against real synthesis results (../shared/groundtruth):
groundtruth.py reads hls4ml-style rows (kernels.jsonl, networks.jsonl, wa_hls4ml_dense.jsonl)
and the common comparison machinery, finn.py FINN's rows (finn_synth.jsonl). Used by
benchmarks/groundtruth.py (error tables) and benchmarks/fit_cost_model.py (the fit); the
compiler itself never imports this package."""
