#!/usr/bin/env python3
"""Calibration methods and automatic precision, measured (the README's "Calibration" tables).

For each float model: calibration data and separate evaluation data from the same source,
then, per calibration method and width (activations and weights at that width, weights
min/max), the bit-accurate simulator's argmax agreement with the float model (onnxruntime)
on the evaluation data, and accuracy where labels exist. Then the same per weight method at
4-bit weights (8-bit activations, min/max), per-channel weight formats against per-tensor ones
at 4 bits, and the auto-precision design next to uniform 16
and 8 bits (LUT, DSP on the target, agreement on the evaluation data).

Data: the digits MLP and the mnist-8 CNN (D10) on scikit-learn's digits (examples/, real
images and labels); the breast-cancer MLP (examples/, real features and labels); the jet
and toy CNN dev models (D01-D04) have no data set here, so standard-normal features, which
is what their standardized inputs look like.

    python benchmarks/bench_calibration.py [--quick] [--models digits,D01] [--no-auto]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("QCOMPILE_SHARED", REPO.parent / "shared"))
EX = REPO / "examples"
METHODS = ("minmax", "percentile", "mse", "kl", "aciq")
WIDTHS = (8, 6, 4)
TARGET = "zcu104"


def dev(name: str) -> str:
    return str(SHARED / "models" / "dev" / name / "model.onnx")


def datasets(quick: bool) -> dict:
    """name -> (model, calib, eval, labels or None, input shape note)."""
    rng = np.random.default_rng(0)
    n = 300 if quick else 1000
    normal = lambda shape: np.clip(rng.standard_normal((n,) + shape), -8, 8)  # noqa: E731
    d28, y28 = np.load(EX / "digits28_x.npy"), np.load(EX / "digits28_y.npy")
    xt = np.load(EX / "digits_test_x.npy")
    return {
        "digits": (str(EX / "digits_mlp.onnx"), np.load(EX / "digits_calib_x.npy"), xt, np.load(EX / "digits_test_y.npy")),
        "cancer": (str(EX / "cancer_mlp.onnx"), np.load(EX / "cancer_calib_x.npy"), np.load(EX / "cancer_test_x.npy"),
                   np.load(EX / "cancer_test_y.npy")),
        "D01": (dev("D01_jet_mlp_float"), normal((16,)), normal((16,)), None),
        "D02": (dev("D02_jet_mlp_bn_float"), normal((16,)), normal((16,)), None),
        "D03": (dev("D03_conv1d_float"), None, None, None),
        "D04": (dev("D04_conv2d_bn_pool_float"), normal((25, 25, 1)), normal((25, 25, 1)), None),
        "D10": (dev("D10_mnist8_cnn_float_gold"), d28[300:], d28[:300], y28[:300]),
    }


def reference(model: str, x: np.ndarray) -> np.ndarray:
    from compiler.frontend.reference import run_reference
    from compiler.frontend.onnx import load_onnx

    return run_reference(model, x, whole_tensor=load_onnx(model).whole_tensor)[0].reshape(len(x), -1)


def measure(design, x, ref, labels) -> tuple[float, float | None]:
    import compiler

    y = np.asarray(compiler.simulate(design, x)).reshape(len(x), -1)
    agree = float(np.mean(y.argmax(1) == ref.argmax(1)))
    return agree, None if labels is None else float(np.mean(y.argmax(1) == labels))


def cell(agree, acc) -> str:
    return f"{100 * agree:.1f}" + ("" if acc is None else f" ({100 * acc:.1f})")


def main() -> None:
    import compiler
    from compiler.errors import CompileError

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--models", default="digits,cancer,D01,D02,D03,D04,D10")
    ap.add_argument("--no-auto", action="store_true", help="skip the auto-precision table")
    args = ap.parse_args()
    data = datasets(args.quick)
    names = args.models.split(",")
    t0 = time.time()
    print(f"# Calibration methods, {time.strftime('%Y-%m-%d')}, target {TARGET}: argmax agreement with the float "
          "model on held-out data, % (accuracy on labels)\n")
    print("| model | bits | " + " | ".join(METHODS) + " |")
    print("|---|---|" + "---|" * len(METHODS))
    for name in names:
        model, calib, x, labels = data[name]
        if calib is None:   # D03: standard-normal data in the model's input shape
            import onnx
            dims = [d.dim_value for d in onnx.load(model).graph.input[0].type.tensor_type.shape.dim][1:]
            rng = np.random.default_rng(1)
            n = 300 if args.quick else 1000
            data[name] = (model, *(np.clip(rng.standard_normal((n, *dims)), -8, 8) for _ in range(2)), labels)
    refs = {name: reference(data[name][0], data[name][2]) for name in names}

    def design(name, **kw):
        """The model compiled with its calibration data and kw, and its agreement cell."""
        model, calib, x, labels = data[name]
        d = compiler.compile_model(model, TARGET, calib=calib, **kw)
        return d, cell(*measure(d, x, refs[name], labels))

    for name in names:
        for bits in WIDTHS:
            cells = []
            for m in METHODS:
                try:
                    cells.append(design(name, width=bits, weight_width=bits, calib_method=m)[1])
                except CompileError as e:
                    cells.append(f"refused: {str(e)[:40]}")
            print(f"| {name} | {bits} | " + " | ".join(cells) + " |", flush=True)
    print("\n# Weight calibration at 4-bit weights (activations 8 bits, min/max)\n")
    print("| model | " + " | ".join(METHODS) + " |")
    print("|---|" + "---|" * len(METHODS))
    for name in names:
        cells = [design(name, width=8, weight_width=4, weight_calib_method=m)[1] for m in METHODS]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    print("\n# Per-channel weight formats at 4-bit weights (activations 8 bits)\n")
    print("| model | per tensor | per channel (--per-channel-weights) | LUT per tensor | LUT per channel |")
    print("|---|---|---|---|---|")
    for name in names:
        got = [design(name, width=8, weight_width=4, per_channel_weights=pc) for pc in (False, True)]
        luts = [f"{compiler.estimate(d).totals['lut']:,.0f}" for d, _ in got]
        print(f"| {name} | " + " | ".join([c for _, c in got] + luts) + " |", flush=True)
    if not args.no_auto:
        from compiler.precision import design_cost

        print("\n# Auto precision (argmax:0.99 on the calibration data) next to uniform widths\n")
        print("| model | design | II | LUT | DSP | LUT+DSP share | agreement % (accuracy) | compiles | time s |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name in names:
            rows = []
            for label, kw in (("uniform 16", dict(width=16, weight_width=16)), ("uniform 8", dict(width=8, weight_width=8)),
                              ("auto argmax:0.99", dict(auto_precision="argmax:0.99"))):
                t = time.time()
                try:
                    d, agreement = design(name, **kw)
                except CompileError as e:
                    rows.append(f"| {name} | {label} | refused: {e} ||||||")
                    continue
                e = compiler.estimate(d)
                n = d.options.get("auto_precision", {}).get("compiles", 1)
                rows.append(f"| {name} | {label} | {e.ii} | {e.totals['lut']:,.0f} | {e.totals['dsp']:,.0f} | "
                            f"{design_cost(d):.3f} | {agreement} | {n} | {time.time() - t:.1f} |")
            print("\n".join(rows), flush=True)
    print(f"\n({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
