#!/usr/bin/env python3
"""Estimate-API benchmark for qcompile: whole-network what-if estimates per second, as a search tool
calls them, next to rule4ml's per-query prediction time when rule4ml is installed.

  1. `compiler.estimate(design, overrides)` on D01 (compiled once) over a search workload of N
     distinct random configurations (every Dense layer: a reuse factor from its fold_choices,
     weight_bits 2..16, act_bits 4..16, optionally pruning):
       cold      first pass over the N configurations with a fresh estimator (empty memos);
       warm      a second pass over the same configurations (a search revisiting them);
       walk      a random walk of N steps, each changing one knob of one layer (local search,
                 annealing, greedy per-layer bit allocation), fresh estimator;
       batch     compiler.estimate_batch over the same N configurations at once (a search's
                 population), fresh estimator; its answers are checked against cold's;
       baseline  the no-override estimate (the report's numbers), N times;
       uncached  context only: the memos emptied before every call (every layer recomputed).
  2. rule4ml (optional `[peers]` extra): MultiModelWrapper.predict on a Keras model of the same
     architecture, one configuration per query (median of R queries), and one call with several
     configurations; our estimates/s over its queries/s as a ratio. Skipped with a message when
     rule4ml is not importable.

Not a test: nothing here asserts on speed; the aim (>= 20,000 estimates/s) is printed for the record.

    python benchmarks/bench_estimate.py            # full run, table on stdout
    python benchmarks/bench_estimate.py --quick    # smoke-test sizes
    python benchmarks/bench_estimate.py --json     # one JSON object on stdout instead of the table

Progress messages go to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_spine import quiet_fds, tail  # noqa: E402  (same folder; shared helpers)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS_DIR = REPO.parent / "shared/models/dev"
MODEL = "D01_jet_mlp_float"

# Aim, printed for the record (from the issue); never asserted.
AIM_ESTIMATES_S = 20_000

WEIGHT_BITS = (2, 16)
ACT_BITS = (4, 16)
PRUNING_GRID = tuple(round(0.1 * k, 1) for k in range(10))  # 0.0 .. 0.9

# rule4ml's query: its README's MultiModelWrapper call, one configuration pinned.
RULE4ML_PRECISION = "ap_fixed<16, 6>"   # qcompile's default 16-bit width; input type ap_fixed<16,6>
RULE4ML_STRATEGY = "latency"
RULE4ML_HLS4ML = "1.1.0"
RULE4ML_VIVADO = "2024.2"

FULL = {"configs": 20_000, "reps": 3, "uncached": 2_000, "rule4ml_queries": 10, "rule4ml_batch": 8}
QUICK = {"configs": 2_000, "reps": 2, "uncached": 500, "rule4ml_queries": 3, "rule4ml_batch": 4}


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---- workload -----------------------------------------------------------------------------------

def make_workload(design, n: int, seed: int, pruning: bool) -> tuple[list[dict], dict]:
    """n distinct configurations, each overriding every layer that has fold choices (the Dense
    layers), as a random search over reuse factor and widths would."""
    knobs = [(node.name, node.op.fold_choices(design.target)) for node in design.graph.nodes()]
    knobs = [(name, choices) for name, choices in knobs if choices]
    rng = random.Random(seed)
    seen, configs = set(), []
    space = 1
    for _, choices in knobs:
        space *= len(choices) * (WEIGHT_BITS[1] - WEIGHT_BITS[0] + 1) * (ACT_BITS[1] - ACT_BITS[0] + 1) * \
            (len(PRUNING_GRID) if pruning else 1)
    if n > space:
        raise SystemExit(f"--configs {n} exceeds the {space} distinct configurations of this space")
    while len(configs) < n:
        cfg, key = {}, []
        for name, choices in knobs:
            ov = {"reuse_factor": rng.choice(choices), "weight_bits": rng.randint(*WEIGHT_BITS),
                  "act_bits": rng.randint(*ACT_BITS)}
            if pruning:
                ov["pruning"] = rng.choice(PRUNING_GRID)
            cfg[name] = ov
            key.append(tuple(ov.values()))
        key = tuple(key)
        if key not in seen:
            seen.add(key)
            configs.append(cfg)
    info = {"configs": n, "seed": seed, "layers_overridden": [name for name, _ in knobs],
            "fold_choices": {name: list(c) for name, c in knobs}, "weight_bits": list(WEIGHT_BITS),
            "act_bits": list(ACT_BITS), "pruning": list(PRUNING_GRID) if pruning else None,
            "space_size": space}
    return configs, info


def make_walk(design, n: int, seed: int, pruning: bool) -> list[dict]:
    """n configurations of a random walk: each step re-draws one knob of one Dense layer."""
    knobs = [(node.name, node.op.fold_choices(design.target)) for node in design.graph.nodes()]
    knobs = [(name, choices) for name, choices in knobs if choices]
    rng = random.Random(seed + 1)
    draw = {"reuse_factor": lambda ch: rng.choice(ch), "weight_bits": lambda ch: rng.randint(*WEIGHT_BITS),
            "act_bits": lambda ch: rng.randint(*ACT_BITS)}
    if pruning:
        draw["pruning"] = lambda ch: rng.choice(PRUNING_GRID)
    cfg = {name: {k: f(choices) for k, f in draw.items()} for name, choices in knobs}
    walk = []
    for _ in range(n):
        name, choices = rng.choice(knobs)
        key = rng.choice(list(draw))
        cfg = {**cfg, name: {**cfg[name], key: draw[key](choices)}}
        walk.append(cfg)
    return walk


# ---- 1. compiler.estimate -----------------------------------------------------------------------

def _pass(estimate, design, configs) -> tuple[float, list]:
    t0 = time.perf_counter()
    out = [estimate(design, cfg) for cfg in configs]
    return time.perf_counter() - t0, out


def _rate(n: int, times: list[float]) -> dict:
    return {"estimates_per_s": n / statistics.median(times), "best_estimates_per_s": n / min(times),
            "us_per_estimate": 1e6 * statistics.median(times) / n, "times_s": times}


def bench_estimate(design, configs: list[dict], walk: list[dict], reps: int, n_uncached: int) -> dict:
    import compiler

    estimate = compiler.estimate
    n = len(configs)
    res: dict = {"reps": reps}
    prepare, cold, warm, walked, batched = [], [], [], [], []
    results = None
    for rep in range(reps):
        design.invalidate()                       # a fresh estimator: empty per-layer memo
        t0 = time.perf_counter()
        design.estimator()
        prepare.append(time.perf_counter() - t0)
        try:
            dt, results = _pass(estimate, design, configs)
            cold.append(dt)
            dt, _ = _pass(estimate, design, configs)
            warm.append(dt)
            design.invalidate()
            dt, _ = _pass(estimate, design, walk)
            walked.append(dt)
            design.invalidate()
            t0 = time.perf_counter()
            batch = compiler.estimate_batch(design, configs)
            batched.append(time.perf_counter() - t0)
            if (batch.latency.tolist() != [r.latency for r in results]
                    or not np.allclose(batch.totals["lut"], [r.totals["lut"] for r in results], rtol=1e-12)):
                raise AssertionError("estimate_batch disagrees with estimate")
        except Exception as e:  # report, do not hide: which configuration broke the estimator
            res["error"] = f"{type(e).__name__}: {e}"
            return res
        log(f"rep {rep + 1}/{reps}: cold {n / cold[-1]:,.0f}/s, warm {n / warm[-1]:,.0f}/s, "
            f"walk {len(walk) / walked[-1]:,.0f}/s, batch {n / batched[-1]:,.0f}/s")
    res["prepare_s"] = statistics.median(prepare)
    res["cold"] = _rate(n, cold)
    res["warm"] = _rate(n, warm)
    res["walk"] = _rate(len(walk), walked)
    res["batch"] = _rate(n, batched)
    design.invalidate()
    _pass(estimate, design, configs)
    res["memo_entries_after_pass"] = design.estimator().memo_entries

    t0 = time.perf_counter()
    for _ in range(n):
        estimate(design)
    base_dt = time.perf_counter() - t0
    res["baseline"] = _rate(n, [base_dt])

    est = design.estimator()  # context: every layer recomputed on every call
    sub = configs[:n_uncached]
    t0 = time.perf_counter()
    for cfg in sub:
        est.forget()
        estimate(design, cfg)
    res["uncached"] = _rate(len(sub), [time.perf_counter() - t0])

    # Context, not a test: the overrides change the answer (a constant estimator would be fast too).
    base = estimate(design)
    outcomes = {(r.latency, r.ii, round(r.totals["dsp"]), round(r.totals["lut"])) for r in results}
    lat = [r.latency_us for r in results]
    res["distinct_outcomes"] = len(outcomes)
    res["fits_fraction"] = float(np.mean([r.fits for r in results]))
    res["latency_us_range"] = [min(lat), max(lat)]
    res["ii_range"] = [min(r.ii for r in results), max(r.ii for r in results)]
    res["baseline_estimate"] = {"latency_cycles": base.latency, "latency_us": base.latency_us, "ii": base.ii,
                                "totals": dict(base.totals), "fits": base.fits, "clock_mhz": base.clock_mhz}
    for key in ("cold", "warm", "walk", "batch", "baseline"):
        res[key]["meets_aim"] = res[key]["estimates_per_s"] >= AIM_ESTIMATES_S
    return res


# ---- 2. rule4ml ---------------------------------------------------------------------------------

def mlp_layers(design) -> list[tuple[int, str | None]] | str:
    """[(units, activation)] of the design if it is a plain dense MLP (rule4ml's Keras input);
    otherwise the reason it is not."""
    nodes = design.graph.nodes()
    layers: list[tuple[int, str | None]] = []
    for i, node in enumerate(nodes):
        kind = type(node.op).__name__
        if kind == "Dense":
            layers.append((node.op.n_out, node.op.activation))
        elif kind == "Softmax" and i == len(nodes) - 1 and layers and layers[-1][1] is None:
            layers[-1] = (layers[-1][0], "softmax")
        else:
            return f"layer {node.name} ({kind}) has no rule4ml/Keras counterpart in this benchmark"
    if not layers or any(a not in (None, "relu", "softmax") for _, a in layers):
        return "not a ReLU/softmax dense MLP"
    return layers


def rule4ml_query(board: str, queries: int, batch: int) -> dict:
    return {"board": board, "strategy": RULE4ML_STRATEGY, "precision": RULE4ML_PRECISION, "reuse_factor": 1,
            "hls4ml_version": RULE4ML_HLS4ML, "vivado_version": RULE4ML_VIVADO, "queries": queries, "batch": batch}


def bench_rule4ml(design, queries: int, batch: int, board: str, threads: int) -> dict:
    layers = mlp_layers(design)
    res = rule4ml_query(board, queries, batch)
    if isinstance(layers, str):
        res["skipped"] = layers
        return res
    n_in = design.graph.nodes()[0].op.n_in
    res["architecture"] = [n_in] + [u for u, _ in layers]
    res["activations"] = [a for _, a in layers]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    stage = "import"
    with quiet_fds() as captured:
        try:
            t0 = time.perf_counter()
            try:
                import rule4ml  # noqa: F401
            except ImportError as e:
                res["skipped"] = f"rule4ml not installed (pip install 'qcompile[peers]'): {e}"
                return res
            import keras
            import torch
            from rule4ml.models.wrappers import MultiModelWrapper

            res["import_s"] = time.perf_counter() - t0
            res["versions"] = {"rule4ml": _version("rule4ml"), "torch": torch.__version__,
                               "keras": keras.__version__, "tensorflow": _version("tensorflow")}
            if threads > 0:
                torch.set_num_threads(threads)
            res["torch_threads"] = torch.get_num_threads()

            stage = "load_default_models"
            t0 = time.perf_counter()
            estimator = MultiModelWrapper()
            estimator.load_default_models()
            res["load_s"] = time.perf_counter() - t0
            res["predictors"] = list(getattr(estimator, "_models", {}))

            stage = "building the Keras model"
            inputs = keras.layers.Input(shape=(n_in,))
            x = inputs
            for units, act in layers:
                x = keras.layers.Dense(units, activation=act)(x)
            model = keras.Model(inputs=inputs, outputs=x, name=MODEL)
            model.build((None, n_in))  # rule4ml requires a built model

            def config(rf: int) -> dict:
                return {"board": board, "model": {"strategy": RULE4ML_STRATEGY, "precision": RULE4ML_PRECISION,
                                                  "reuse_factor": rf}}

            def query(cfgs):
                return estimator.predict(model, hls_configs=cfgs, hls4ml_versions=[RULE4ML_HLS4ML],
                                         vivado_versions=[RULE4ML_VIVADO])

            stage = "predict()"
            t0 = time.perf_counter()
            df = query([config(1)])
            res["first_query_s"] = time.perf_counter() - t0
            query([config(1)])  # second untimed warm-up
            times = []
            for _ in range(queries):
                t0 = time.perf_counter()
                df = query([config(1)])
                times.append(time.perf_counter() - t0)
            if len(df) != 1:
                raise RuntimeError(f"expected one prediction row, got {len(df)}")
            row = df.iloc[0]
            res["prediction"] = {k: float(row[k]) for k in ("CYCLES", "INTERVAL", "DSP", "LUT", "FF", "BRAM")
                                 if k in row.index}
            res["times_s"] = times
            res["s_per_query"] = statistics.median(times)
            res["best_s_per_query"] = min(times)
            res["queries_per_s"] = 1.0 / res["s_per_query"]
            if batch > 0:  # several configurations in one call: does batching amortize?
                rfs = [2 ** k for k in range(batch)]
                t0 = time.perf_counter()
                df = query([config(rf) for rf in rfs])
                dt = time.perf_counter() - t0
                res["batch_reuse_factors"] = rfs
                res["batch_s"] = dt
                res["batch_s_per_config"] = dt / len(rfs)
                res["batch_rows"] = len(df)
        except Exception:
            res["skipped"] = f"rule4ml failed in {stage}: {tail(traceback.format_exc(), 1)}\n{tail(captured(), 4)}"
            return res
    log(f"rule4ml: {res['s_per_query'] * 1e3:,.0f} ms per query ({res['torch_threads']} torch thread(s))")
    return res


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


# ---- output -------------------------------------------------------------------------------------

def _aim(ok) -> str:
    return "" if ok is None else ("met" if ok else "NOT met")


def print_table(doc: dict) -> None:
    m, w = doc["meta"], doc["workload"]
    print(f"qcompile estimate benchmark ({'quick' if m['quick'] else 'full'}) - python {m['python']}, "
          f"numpy {m['numpy']}, {m['cpus']} CPU(s), {m['machine']}")
    print(f"model: {m['model_path']}  target {m['target']}  (compile_model {m['compile_s']:.2f} s)")
    layers = ", ".join(f"{len(c)} reuse factors" for c in w["fold_choices"].values())
    print(f"workload: {w['configs']:,} distinct random configurations (seed {w['seed']}) of "
          f"{len(w['layers_overridden'])} Dense layers ({layers}); weight_bits {w['weight_bits'][0]}..{w['weight_bits'][1]}, "
          f"act_bits {w['act_bits'][0]}..{w['act_bits'][1]}, pruning "
          f"{'%s..%s' % (w['pruning'][0], w['pruning'][-1]) if w['pruning'] else 'off'}")
    print()

    e = doc["estimate"]
    print(f"1. compiler.estimate(design, overrides), whole network (median of {e['reps']} rep(s); best in brackets)")
    if "error" in e:
        print(f"   ERROR: {e['error']}")
    else:
        print(f"   {'':<44} {'estimates/s':>12} {'':>10} {'us/estimate':>12}   aim >= {AIM_ESTIMATES_S:,}/s")
        rows = [("cold: first pass, fresh estimator", "cold"), ("warm: second pass, same configurations", "warm"),
                ("walk: one knob of one layer per step", "walk"),
                ("batch: estimate_batch, all N at once", "batch"), ("baseline: no overrides", "baseline")]
        for label, key in rows:
            r = e[key]
            print(f"   {label:<44} {r['estimates_per_s']:>12,.0f} {'[' + format(r['best_estimates_per_s'], ',.0f') + ']':>10} "
                  f"{r['us_per_estimate']:>12.1f}   {_aim(r['meets_aim'])}")
        if "uncached" in e:
            r = e["uncached"]
            print(f"   {'(context) memo emptied before every call':<44} {r['estimates_per_s']:>12,.0f} {'':>10} "
                  f"{r['us_per_estimate']:>12.1f}")
        b = e["baseline_estimate"]
        print(f"   estimator preparation {e['prepare_s'] * 1e3:.1f} ms; per-layer memo after one pass: "
              f"{e['memo_entries_after_pass']:,} entries")
        print(f"   answers: {e['distinct_outcomes']:,} distinct (latency, II, DSP, LUT) among {w['configs']:,}; "
              f"{e['fits_fraction']:.1%} fit the device; latency {e['latency_us_range'][0]:.3f}..{e['latency_us_range'][1]:.3f} us, "
              f"II {e['ii_range'][0]}..{e['ii_range'][1]} cycles")
        print(f"   no-override estimate: {b['latency_cycles']} cycles ({b['latency_us']:.3f} us at {b['clock_mhz']:.0f} MHz), "
              f"II {b['ii']}, DSP {b['totals']['dsp']:,.0f}, LUT {b['totals']['lut']:,.0f}, FF {b['totals']['ff']:,.0f}, "
              f"BRAM_18K {b['totals']['bram_18k']:,.0f}")
    print()

    r = doc["rule4ml"]
    print(f"2. rule4ml MultiModelWrapper.predict, one configuration per query ({r.get('board')}, {r.get('strategy')}, "
          f"{r.get('precision')}, reuse factor 1, hls4ml {r.get('hls4ml_version')}, Vivado {r.get('vivado_version')})")
    if "skipped" in r:
        print("   " + r["skipped"].replace("\n", "\n   "))
    else:
        v = r["versions"]
        print(f"   rule4ml {v['rule4ml']} (torch {v['torch']}, {r['torch_threads']} thread(s); keras {v['keras']}, "
              f"tensorflow {v['tensorflow']}); Keras model {'-'.join(map(str, r['architecture']))} "
              f"({', '.join(str(a) for a in r['activations'])})")
        print(f"   import {r['import_s']:.1f} s, load_default_models {r['load_s']:.2f} s ({len(r['predictors'])} predictors), "
              f"first query {r['first_query_s']:.2f} s")
        print(f"   per query: median {r['s_per_query'] * 1e3:,.1f} ms (best {r['best_s_per_query'] * 1e3:,.1f} ms) over "
              f"{r['queries']} queries = {r['queries_per_s']:,.2f} queries/s")
        if "batch_s" in r:
            print(f"   one call with {len(r['batch_reuse_factors'])} configurations (reuse factors "
                  f"{r['batch_reuse_factors'][0]}..{r['batch_reuse_factors'][-1]}): {r['batch_s']:.2f} s = "
                  f"{r['batch_s_per_config'] * 1e3:,.1f} ms per configuration")
        if "ratio_cold" in r:
            print(f"   ratio qcompile estimates/s / rule4ml queries/s: cold {r['ratio_cold']:,.0f}x, "
                  f"warm {r['ratio_warm']:,.0f}x, batch {r['ratio_batch']:,.0f}x")
        p = r.get("prediction", {})
        if p:
            print("   its prediction (hls4ml synthesis, trained at a 10 ns clock): "
                  + ", ".join(f"{k} {v:,.2f}" for k, v in p.items()))
            print("   (context only: different tools and boards, not a check of either estimate)")
    print()
    print(f"total benchmark time {m['total_s']:.1f} s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR,
                    help=f"folder of the dev models (default: {DEFAULT_MODELS_DIR})")
    ap.add_argument("--target", default="zcu104", help="board the design is compiled for (default zcu104)")
    ap.add_argument("--quick", action="store_true", help="smoke-test sizes (2,000 configurations, 3 rule4ml queries)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--configs", type=int, help="number of distinct configurations (default 20,000; 2,000 with --quick)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pruning", action="store_true", help="also draw a pruning fraction (0.0..0.9) per layer")
    ap.add_argument("--skip-rule4ml", action="store_true", help="do not run the rule4ml peer")
    ap.add_argument("--rule4ml-board", default="zcu102",
                    help="board rule4ml predicts for (its predictors know pynq-z2, zcu102, alveo-u200, alveo-u250)")
    ap.add_argument("--rule4ml-threads", type=int, default=1,
                    help="torch threads for rule4ml (default 1: faster than torch's default here; 0 = torch default)")
    args = ap.parse_args(argv)

    import compiler

    sizes = dict(QUICK if args.quick else FULL)
    if args.configs:
        sizes["configs"] = args.configs
    path = args.models_dir.resolve() / MODEL / "model.onnx"
    t_start = time.perf_counter()
    doc: dict = {"meta": {"quick": args.quick, "model_path": str(path), "target": args.target,
                          "python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count(),
                          "machine": platform.machine(), "sizes": sizes, "aim_estimates_per_s": AIM_ESTIMATES_S}}
    if not path.is_file():
        print(f"{path}: no such file (set --models-dir)", file=sys.stderr)
        return 2
    log(f"compiling {path}")
    t0 = time.perf_counter()
    with quiet_fds():
        design = compiler.compile_model(str(path), target=args.target)
    doc["meta"]["compile_s"] = time.perf_counter() - t0
    configs, doc["workload"] = make_workload(design, sizes["configs"], args.seed, args.pruning)
    walk = make_walk(design, sizes["configs"], args.seed, args.pruning)
    log(f"estimating {len(configs):,} configurations x {sizes['reps']} rep(s)")
    doc["estimate"] = bench_estimate(design, configs, walk, sizes["reps"], sizes["uncached"])
    # rule4ml last: importing tensorflow/torch must not disturb our own timings.
    if args.skip_rule4ml:
        doc["rule4ml"] = {**rule4ml_query(args.rule4ml_board, sizes["rule4ml_queries"], sizes["rule4ml_batch"]),
                          "skipped": "--skip-rule4ml"}
    else:
        log("rule4ml: importing it if installed (tensorflow + torch: slow), then predicting")
        doc["rule4ml"] = bench_rule4ml(design, sizes["rule4ml_queries"], sizes["rule4ml_batch"],
                                       args.rule4ml_board, args.rule4ml_threads)
    r, e = doc["rule4ml"], doc["estimate"]
    if "queries_per_s" in r and "cold" in e:
        r["ratio_cold"] = e["cold"]["estimates_per_s"] / r["queries_per_s"]
        r["ratio_warm"] = e["warm"]["estimates_per_s"] / r["queries_per_s"]
        r["ratio_batch"] = e["batch"]["estimates_per_s"] / r["queries_per_s"]
    doc["meta"]["total_s"] = time.perf_counter() - t_start

    if args.json:
        print(json.dumps(doc, indent=1, default=str))
    else:
        print_table(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
