#!/usr/bin/env python3
"""AMC-style pruning on qcompile's estimate: an agent picks per-layer pruning ratios for the
digits MLP; its reward is the bit-accurate simulator's accuracy on held-out digits, under a
budget on the estimated speed of the design compiled for the board (AMC's point: FLOPs are
not latency). It is compared with FLOPs-driven pruning at the same budget.

The budget is on the II by default (--metric ii: the interval between inferences, i.e.
throughput, what a streaming design is deployed for and what --fit trades against area), or
on the latency of one inference (--metric latency).

The agent is the cross-entropy method (CEM), not AMC's DDPG: the action space is a handful of
ratios, the reward is cheap and exact (one compile and one simulation per candidate, ~0.1 s),
and CEM (sample a population from a Gaussian per layer, refit it to the best fraction) finds
the optimum of such a small black box in a few hundred evaluations without the critic, replay
buffer and tuning DDPG needs. Candidates map to channel counts, so identical designs are
compiled once.

Each candidate is a real structured-pruning compile (compiler.prune): channels are removed,
the design is folded to --fit the board, and its estimate is the one its HLS would have.

    python examples/amc_pruning.py                       # pynq-z2, II within 25% of the unpruned one
    python examples/amc_pruning.py --quick               # a smaller search (CI smoke test)
    python examples/amc_pruning.py --metric latency --budget 0.8 --target zcu104
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import compiler

HERE = Path(__file__).resolve().parent
MODEL = HERE / "digits_mlp.onnx"
MAX_RATIO = 0.9


class Evaluator:
    """One compile + one simulation per distinct design (kept channel counts)."""

    def __init__(self, target: str, calib, x, y):
        self.target, self.calib, self.x, self.y = target, calib, x, y
        self.base = compiler.compile_model(MODEL, target, calib=calib, fit=True)
        self.layers = [n.name for n in self.base.graph.nodes() if n.kind == "Dense"][:-1]   # the classifier stays
        self.channels = {n.name: n.op.n_out for n in self.base.graph.nodes() if n.name in self.layers}
        self.cache: dict[tuple, dict] = {}

    def kept(self, ratios) -> tuple:
        return tuple(self.channels[k] - int(round(r * self.channels[k])) for k, r in zip(self.layers, ratios))

    def __call__(self, ratios) -> dict:
        key = self.kept(ratios)
        if key not in self.cache:
            exact = {k: 1 - kept / self.channels[k] for k, kept in zip(self.layers, key)}
            d = compiler.prune(self.base, exact)
            cost = compiler.estimate(d)
            acc = float(np.mean(compiler.simulate(d, self.x).argmax(1) == self.y))
            macs = sum(n.op.n_in * n.op.n_out for n in d.graph.nodes() if n.kind == "Dense")
            self.cache[key] = {"kept": key, "ratios": exact, "latency_us": cost.latency_us, "ii": cost.ii, "macs": macs,
                               "lut": cost.totals["lut"], "dsp": cost.totals["dsp"], "accuracy": acc}
        return self.cache[key]


def cem(evaluate: Evaluator, metric: str, budget: float, iterations: int, population: int, seed: int) -> dict:
    """Maximize accuracy subject to r[metric] <= budget (an infeasible candidate scores its
    accuracy minus its relative excess, so the search is pulled into the budget)."""
    rng = np.random.default_rng(seed)
    mu, sigma = np.full(len(evaluate.layers), 0.3), np.full(len(evaluate.layers), 0.25)
    best = None
    for _ in range(iterations):
        pop = np.clip(rng.normal(mu, sigma, size=(population, len(mu))), 0.0, MAX_RATIO)
        scored = []
        for ratios in pop:
            r = evaluate(ratios)
            excess = max(0.0, r[metric] / budget - 1)
            scored.append((r["accuracy"] - 10 * excess, ratios, r))
            if excess == 0 and (best is None or r["accuracy"] > best["accuracy"]
                                or r["accuracy"] == best["accuracy"] and r[metric] < best[metric]):
                best = r
        scored.sort(key=lambda s: -s[0])
        elite = np.array([s[1] for s in scored[:max(2, population // 5)]])
        mu, sigma = elite.mean(axis=0), np.maximum(elite.std(axis=0), 0.03)
    return best


def flops_driven(evaluate: Evaluator, metric: str, budget: float) -> dict:
    """The FLOPs heuristic at the same budget: one uniform ratio for every layer (FLOPs fall
    the same everywhere), the smallest that meets the latency budget."""
    for r in np.linspace(0, MAX_RATIO, 19):
        cand = evaluate(np.full(len(evaluate.layers), r))
        if cand[metric] <= budget:
            return cand
    return cand


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", default="pynq-z2")
    ap.add_argument("--metric", choices=("ii", "latency_us"), default="ii", help="what the budget bounds")
    ap.add_argument("--budget", type=float, default=0.25, help="the budget, a share of the unpruned design's")
    ap.add_argument("--iterations", type=int, default=12)
    ap.add_argument("--population", type=int, default=24)
    ap.add_argument("--quick", action="store_true", help="a small search (4 iterations of 12)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.iterations, args.population = 4, 12

    t0 = time.perf_counter()
    calib = np.load(HERE / "digits_calib_x.npy")
    x, y = np.load(HERE / "digits_test_x.npy"), np.load(HERE / "digits_test_y.npy")
    ev = Evaluator(args.target, calib, x, y)
    full = ev(np.zeros(len(ev.layers)))
    budget = args.budget * full[args.metric]
    print(f"{MODEL.name} on {args.target} (--fit): II {full['ii']} cycles, latency {full['latency_us']:.3f} us, "
          f"{full['macs']:,} MACs, accuracy {full['accuracy']:.4f}; budget {args.metric} <= {budget:g} "
          f"({args.budget:.0%}); prunable: {', '.join(ev.layers)}")
    agent = cem(ev, args.metric, budget, args.iterations, args.population, args.seed)
    flops = flops_driven(ev, args.metric, budget)

    print(f"\n{'':<22} {'kept channels':<16} {'MACs':>7} {'II':>5} {'latency us':>11} {'LUT':>8} {'DSP':>5} "
          f"{'accuracy':>9}")
    for label, r in (("unpruned", full), ("FLOPs-driven (uniform)", flops), ("CEM agent", agent)):
        if r is None:
            print(f"{label:<22} no candidate met the budget")
            continue
        print(f"{label:<22} {str(r['kept']):<16} {r['macs']:>7,} {r['ii']:>5} {r['latency_us']:>11.3f} {r['lut']:>8,.0f} "
              f"{r['dsp']:>5.0f} {r['accuracy']:>9.4f}")

    # where FLOPs and the estimate disagree: designs with fewer MACs that are slower
    seen = sorted(ev.cache.values(), key=lambda r: r["macs"])
    inversions = [(a, b) for i, a in enumerate(seen) for b in seen[i + 1:]
                  if a["macs"] < b["macs"] and a[args.metric] > b[args.metric] * 1.05]
    print(f"\n{len(ev.cache)} designs compiled and simulated in {time.perf_counter() - t0:.1f} s; "
          f"{len(inversions)} pairs where fewer MACs came with a >5% larger {args.metric}, e.g.:")
    for a, b in sorted(inversions, key=lambda p: p[1]["macs"] - p[0]["macs"], reverse=True)[:3]:
        print(f"  kept {a['kept']}: {a['macs']:,} MACs, II {a['ii']}, {a['latency_us']:.3f} us   vs   kept {b['kept']}: "
              f"{b['macs']:,} MACs, II {b['ii']}, {b['latency_us']:.3f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
