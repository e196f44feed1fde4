#!/usr/bin/env python3
"""A mixed-precision search with qcompile's estimate API, on the digits MLP of `make demo`.

  1. compile the model once at the default 16 bits;
  2. draw N random per-layer (weight_bits, act_bits) configurations and cost all of them in
     one compiler.estimate_batch call (latency, II and resources; no re-compilation);
  3. rank them by device share (the largest of LUT, FF and DSP utilization: what decides the
     fit), and measure the accuracy of --probe of them, evenly spread over that ranking, with
     the bit-accurate simulator on the held-out digits (compiled with `layers=`, the same
     per-layer settings the estimate took): a cost/accuracy curve;
  4. report the cheapest probed one within --max-drop of the float model's accuracy (its
     compiled estimate equals the search's) and, with --out, write its HLS project.

    python examples/mixed_precision_search.py                 # 5,000 configurations
    python examples/mixed_precision_search.py -n 500 --out build/digits_mixed
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import compiler
from compiler.frontend.reference import run_reference

HERE = Path(__file__).resolve().parent
MODEL = HERE / "digits_mlp.onnx"
WEIGHT_BITS = (3, 12)
ACT_BITS = (4, 14)
SHARE_OF = ("lut", "ff", "dsp")   # device share: the largest utilization of these, what decides the fit


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=5000, help="random configurations to estimate")
    ap.add_argument("--probe", type=int, default=24, help="configurations whose accuracy is measured")
    ap.add_argument("--max-drop", type=float, default=0.01, help="accuracy below the float model's allowed")
    ap.add_argument("--reuse-factor", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the chosen design's HLS project here")
    args = ap.parse_args(argv)

    calib = np.load(HERE / "digits_calib_x.npy")
    x, y = np.load(HERE / "digits_test_x.npy"), np.load(HERE / "digits_test_y.npy")
    base = compiler.compile_model(MODEL, "zcu104", calib=calib, reuse_factor=args.reuse_factor)
    layers = [n.name for n in base.graph.nodes() if n.kind == "Dense"]
    float_acc = float((run_reference(MODEL, x)[0].argmax(1) == y).mean())

    rng = np.random.default_rng(args.seed)
    configs = [{name: {"weight_bits": int(rng.integers(*WEIGHT_BITS, endpoint=True)),
                       "act_bits": int(rng.integers(*ACT_BITS, endpoint=True))} for name in layers}
               for _ in range(args.n)]
    t0 = time.perf_counter()
    cost = compiler.estimate_batch(base, configs)
    dt = time.perf_counter() - t0
    print(f"estimated {args.n:,} configurations in {dt * 1e3:.0f} ms ({args.n / dt:,.0f}/s)")

    share = cost.largest_share(SHARE_OF)
    ranked = np.argsort(share, kind="stable")
    probe = np.unique(ranked[np.linspace(0, len(ranked) - 1, min(args.probe, len(ranked))).round().astype(int)])
    probe = probe[np.argsort(share[probe], kind="stable")]
    ref = compiler.estimate(base)
    print(f"float model: accuracy {float_acc:.2%}; 16-bit design: device share {ref.largest_share(SHARE_OF):.1%}, "
          f"DSP {ref.totals['dsp']:,.0f}, LUT {ref.totals['lut']:,.0f}, latency {ref.latency_us:.3f} us, "
          f"accuracy {(compiler.simulate(base, x).argmax(1) == y).mean():.2%}")
    print(f"accuracy of {len(probe)} configurations spread over the cost ranking (bit-accurate simulator):")
    print(f"  {'share':>6} {'DSP':>6} {'LUT':>8} {'lat us':>7} {'acc':>7}   weight/act bits per layer")
    chosen = None
    for i in probe:
        design = compiler.compile_model(MODEL, "zcu104", calib=calib, reuse_factor=args.reuse_factor,
                                        layers=configs[i])
        acc = float((compiler.simulate(design, x).argmax(1) == y).mean())
        bits = "  ".join(f"{c['weight_bits']}/{c['act_bits']}" for c in configs[i].values())
        ok = acc >= float_acc - args.max_drop
        print(f"  {share[i]:>6.1%} {cost.totals['dsp'][i]:>6,.0f} {cost.totals['lut'][i]:>8,.0f} "
              f"{cost.latency_us[i]:>7.3f} {acc:>7.2%}   {bits}{'   ok' if ok else ''}")
        if ok and chosen is None:  # probed in increasing cost: the first that is accurate enough
            chosen = (i, design, acc)
    if chosen is None:
        print(f"no configuration on the front stays within {args.max_drop:.1%} of the float accuracy")
        return 1
    i, design, acc = chosen
    got = compiler.estimate(design)
    print(f"chosen (cheapest probed within {args.max_drop:.1%} of the float accuracy): {configs[i]}")
    print(f"  estimate while searching: DSP {cost.totals['dsp'][i]:,.0f}, LUT {cost.totals['lut'][i]:,.0f}; "
          f"compiled: DSP {got.totals['dsp']:,.0f}, LUT {got.totals['lut']:,.0f}, accuracy {acc:.2%}")
    if args.out:
        out = compiler.write_project(design, args.out, force=True)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
