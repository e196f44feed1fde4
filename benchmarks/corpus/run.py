"""Compile every corpus model (collect.py) for a target and check the compiled ones against
the model's reference executor.

    python benchmarks/corpus/run.py [--corpus build/corpus] [--only SUBSTRING] [--target zcu104]
                                    [--samples 8] [--calib 64] [--timeout 150] [--jobs 1]

Per model, in a fresh process (a hang or a hard crash costs that model only):
  1. draw `--samples` test inputs and `--calib` more from the manifest's input_range
     ("normal": N(0, 1); "uniform01": U[0, 1); integers where a QONNX datatype annotation
     says the input is integer) in the shapes the compiler reads from the model, and run
     compiler.compile_model(model, target, calib=both sets);
  2. compiler.simulate on the test inputs, made exactly representable in the design's
     input type first (the reference gets the same numbers);
  3. the reference: onnxruntime (no graph optimizations, the batch axis made symbolic, one
     sample at a time where a batch does not run) or, for models with QONNX custom ops,
     qonnx's execute_onnx one sample at a time;
  4. compare every output: an output is within tolerance when max |simulated - reference|
     <= 5% of max |reference| + 4 steps (lsb) of the output's fixed-point type.

Statuses:  compiled  compiled and within tolerance (or, noted, no reference could run)
           wrong     compiled, but an output is outside the tolerance or of another shape
           refused   a CompileError: its one-line message is recorded
           crash     any other exception (the traceback is recorded): a bug
           timeout   the model did not finish within --timeout seconds
Prints a table and the compile rate (compiled + wrong over all models), groups the refusal
messages, and writes <corpus>/results.json. The exit code is 0 unless the run itself fails
(no manifest, a bad argument)."""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas", "finn",
                 "qonnx.custom_op.channels_last")
RELATIVE_TOLERANCE = 0.05
LSB_TOLERANCE = 4


# ---------------------------------------------------------------------------------------------
# the worker: one model
def _ort_session(model):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _feeds(model):
    import onnx
    from onnx import helper

    inits = {i.name for i in model.graph.initializer}
    ins = [v for v in model.graph.input if v.name not in inits]
    return [(v.name, helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type or onnx.TensorProto.FLOAT))
            for v in ins]


def _as_array(y):
    import numpy as np

    if isinstance(y, list) and y and isinstance(y[0], dict):  # ZipMap: a list of {label: p}
        return np.array([[d[k] for k in sorted(d)] for d in y], dtype=np.float64)
    return np.asarray(y)


def reference(path: str, xs: list, whole_tensor: bool):
    """The model's outputs for the batch xs (one array per input, batch first)."""
    import numpy as np
    import onnx

    model = onnx.load(path)
    n = len(xs[0])
    if any(nd.domain in QONNX_DOMAINS for nd in model.graph.node):
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.core.onnx_exec import execute_onnx

        from qonnx.transformation.infer_shapes import InferShapes

        wrapper = ModelWrapper(model)
        try:  # qonnx's executor needs every shape (some exports leave them out)
            wrapper = wrapper.transform(InferShapes())
        except Exception:  # noqa: BLE001 - run as it is
            pass
        names = [name for name, _ in _feeds(model)]
        outs = [o.name for o in model.graph.output]
        per = []
        for i in range(n):
            feed = {nm: (x[i] if whole_tensor else x[i:i + 1]).astype(np.float32) for nm, x in zip(names, xs)}
            r = execute_onnx(wrapper, feed)
            per.append([np.asarray(r[o]) for o in outs])
        return [np.stack([p[k] for p in per]) if whole_tensor else np.concatenate([p[k] for p in per])
                for k in range(len(outs))]

    feeds = _feeds(model)

    def run(m, batch):
        sess = _ort_session(m)
        return [_as_array(y) for y in sess.run(None, {nm: x.astype(t) for (nm, t), x in zip(feeds, batch)})]

    if not whole_tensor:
        free = onnx.ModelProto()
        free.CopyFrom(model)
        for v in list(free.graph.input) + list(free.graph.output):
            d = v.type.tensor_type.shape.dim
            if len(d):
                d[0].dim_param = "N"
        del free.graph.value_info[:]
        try:
            ys = run(free, xs)
            if all(y.ndim and len(y) == n for y in ys):
                return ys
        except Exception:  # noqa: BLE001 - a graph with the batch hard-coded: one sample at a time
            pass
    sess = _ort_session(model)
    per = []
    for i in range(n):
        batch = [x[i] if whole_tensor else x[i:i + 1] for x in xs]
        per.append([_as_array(y) for y in sess.run(None, {nm: b.astype(t) for (nm, t), b in zip(feeds, batch)})])
    return [np.stack([p[k] for p in per]) if whole_tensor else np.concatenate([p[k] for p in per])
            for k in range(len(per[0]))]


def _first_line(e: BaseException) -> str:
    s = str(e).strip()
    return s.splitlines()[0] if s else type(e).__name__


def run_one(path: str, entry: dict, target: str, samples: int, calib: int, seed: int) -> dict:
    import numpy as np
    import onnx

    import compiler
    from compiler.errors import CompileError
    from compiler.validation.inputs import draw, input_kinds, snap

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(seed)
    res: dict = {"name": entry["name"], "source": entry.get("source", "")}
    t0 = time.time()
    stage = "load"
    try:
        g = compiler.load_onnx(path)
        shapes = [lay.onnx_shape for lay in g.input_layouts]
        whole = bool(g.whole_tensor)
        kinds = input_kinds(onnx.load(path, load_external_data=False), list(g.inputs),
                            entry.get("input_range", "normal"))
        xs = [draw(rng, kind, s, samples) for kind, s in zip(kinds, shapes)]
        # the test samples are part of the calibration set: saturation outside the
        # calibrated range is the user's choice of data, not what this run measures
        cal = [np.concatenate([draw(rng, kind, s, calib), x]) for kind, s, x in zip(kinds, shapes, xs)]
        stage = "compile"
        design = compiler.compile_model(path, target, calib=cal if len(cal) > 1 else cal[0])
        res["compile_s"] = round(time.time() - t0, 2)
        res["kinds"] = dict(Counter(nd.kind for nd in design.graph.nodes()))
        stage = "simulate"
        xs = snap(design, xs)
        got = compiler.simulate(design, xs if len(xs) > 1 else xs[0])
    except CompileError as e:
        res.update(status="refused", stage=stage, detail=_first_line(e))
        return res
    except Exception as e:  # noqa: BLE001 - a bug: reported with its traceback
        res.update(status="crash", stage=stage, detail=f"{type(e).__name__}: {_first_line(e)}",
                   traceback=traceback.format_exc(limit=12))
        return res
    got = got if isinstance(got, list) else [got]
    try:
        want = reference(path, xs, whole)
    except Exception as e:  # noqa: BLE001 - the reference cannot run this model: nothing to compare
        res.update(status="compiled", check=f"no reference: {type(e).__name__}: {_first_line(e)}"[:300])
        return res
    out = design.graph.outputs
    if len(got) != len(want):
        res.update(status="wrong", detail=f"{len(got)} outputs, the reference has {len(want)}")
        return res
    worst, detail, checks = 0.0, "", []
    for k, (y, w) in enumerate(zip(got, want)):
        y, w = np.asarray(y, dtype=np.float64), np.asarray(w, dtype=np.float64)
        if y.shape != w.shape:
            res.update(status="wrong", detail=f"output {k}: shape {y.shape}, the reference's is {w.shape}")
            return res
        try:  # one step of the output in real units (a non-power-of-two scale multiplies the code)
            t = design.graph.tensors[out[k]]
            lsb = float(t.type.lsb) * float(np.max(np.abs(t.scale)))
        except Exception:  # noqa: BLE001 - an output without a fixed-point type
            lsb = 0.0
        scale = float(np.abs(w).max(initial=0.0))
        tol = RELATIVE_TOLERANCE * scale + LSB_TOLERANCE * lsb or 1e-9
        err = np.abs(y - w)
        c = {"max_abs_error": float(err.max(initial=0.0)), "tolerance": tol, "range": scale, "lsb": lsb,
             "off_fraction": float(np.mean(err > tol)) if err.size else 0.0}
        if w.ndim >= 2 and w.shape[-1] > 1:
            c["argmax_agreement"] = float(np.mean(y.reshape(-1, w.shape[-1]).argmax(-1) ==
                                                  w.reshape(-1, w.shape[-1]).argmax(-1)))
        checks.append(c)
        if c["max_abs_error"] / tol >= worst:
            worst = c["max_abs_error"] / tol
            detail = (f"output {k}: max error {c['max_abs_error']:.3g} (tolerance {tol:.3g}, range {scale:.3g}), "
                      f"{100 * c['off_fraction']:.1f}% of values outside")
    res.update(status="compiled" if worst <= 1.0 else "wrong", error_ratio=round(worst, 4), detail=detail,
               outputs=checks, check="match" if worst <= 1.0 else "mismatch")
    res["total_s"] = round(time.time() - t0, 2)
    return res


def worker_main(args) -> int:
    entry = json.loads(args.entry)
    res = run_one(args.one, entry, args.target, args.samples, args.calib, args.seed)
    print("RESULT " + json.dumps(res), flush=True)
    return 0


# ---------------------------------------------------------------------------------------------
# the driver
def run_model(path: Path, entry: dict, args) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", str(path), "--entry", json.dumps(entry),
           "--target", args.target, "--samples", str(args.samples), "--calib", str(args.calib),
           "--seed", str(args.seed)]
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, cwd=str(REPO))
    except subprocess.TimeoutExpired:
        return {"name": entry["name"], "source": entry.get("source", ""), "status": "timeout",
                "detail": f"no result within {args.timeout:.0f} s", "wall_s": round(time.time() - t0, 1)}
    line = next((ln for ln in reversed(p.stdout.splitlines()) if ln.startswith("RESULT ")), None)
    if line is None:  # the worker died (a signal, an abort in native code)
        tail = (p.stderr or p.stdout).strip().splitlines()[-12:]
        return {"name": entry["name"], "source": entry.get("source", ""), "status": "crash", "stage": "worker",
                "detail": f"worker exited {p.returncode} without a result: {tail[-1] if tail else ''}"[:300],
                "traceback": "\n".join(tail), "wall_s": round(time.time() - t0, 1)}
    res = json.loads(line[len("RESULT "):])
    res["wall_s"] = round(time.time() - t0, 1)
    return res


def refusal_group(msg: str) -> str:
    """The message without what names one model's node or sizes: similar refusals group."""
    msg = re.sub(r"node '[^']*'", "node *", msg)
    msg = re.sub(r"'[^']*'", "'*'", msg)
    return re.sub(r"\d+(\.\d+)?", "N", msg)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(REPO / "build" / "corpus"))
    ap.add_argument("--results", default=None, help="default: <corpus>/results.json")
    ap.add_argument("--only", default="")
    ap.add_argument("--target", default="zcu104")
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--calib", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=150.0, help="seconds per model")
    ap.add_argument("--jobs", type=int, default=1, help="models run side by side")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--entry", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        return worker_main(args)
    corpus = Path(args.corpus)
    try:
        doc = json.loads((corpus / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        print(f"no corpus manifest in {corpus}: {e}; run benchmarks/corpus/collect.py --out {corpus} first",
              file=sys.stderr)
        return 2
    entries = [e for e in doc.get("models", []) if args.only in e["name"]]
    t_all = time.time()
    results: list[dict] = []
    print(f"{len(entries)} models, target {args.target}, {args.samples} samples each\n", flush=True)
    print(f"{'model':42s} {'source':9s} {'status':9s} {'s':>6s}  detail", flush=True)

    def show(r):
        d = r.get("detail") or r.get("check", "")
        print(f"{r['name']:42s} {r.get('source', ''):9s} {r['status']:9s} {r.get('wall_s', 0):6.1f}  {d[:150]}",
              flush=True)

    if args.jobs > 1:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(args.jobs) as pool:
            futs = [pool.submit(run_model, corpus / e["file"], e, args) for e in entries]
            for f in futs:
                results.append(f.result())
                show(results[-1])
    else:
        for e in entries:
            results.append(run_model(corpus / e["file"], e, args))
            show(results[-1])

    counts = Counter(r["status"] for r in results)
    total = len(results)
    built = counts["compiled"] + counts["wrong"]
    matched = sum(1 for r in results if r.get("check") == "match")
    refusals = Counter(refusal_group(r["detail"]) for r in results if r["status"] == "refused")
    by_source = {}
    for r in results:
        s = by_source.setdefault(r.get("source", ""), Counter())
        s[r["status"]] += 1
    print(f"\n{total} models: " + ", ".join(f"{counts[s]} {s}" for s in ("compiled", "wrong", "refused", "crash",
                                                                         "timeout")))
    if total:
        print(f"compile rate {built}/{total} = {100 * built / total:.1f}%; within tolerance {matched}/{total} = "
              f"{100 * matched / total:.1f}%; {time.time() - t_all:.0f} s")
    print("\nby source:")
    for s, c in sorted(by_source.items()):
        print(f"  {s:10s} " + ", ".join(f"{c[k]} {k}" for k in ("compiled", "wrong", "refused", "crash", "timeout")
                                        if c[k]))
    if refusals:
        print("\nrefusal reasons (grouped):")
        for msg, c in refusals.most_common():
            print(f"  {c:3d}  {msg[:200]}")
    bad = [r for r in results if r["status"] in ("crash", "wrong", "timeout")]
    if bad:
        print("\ncrashes, wrong results and timeouts:")
        for r in bad:
            print(f"  {r['status']:8s} {r['name']}: {r.get('detail', '')[:220]}")
    summary = {"target": args.target, "models": total, "counts": dict(counts), "compiled_or_wrong": built,
               "compile_rate": built / total if total else None, "within_tolerance": matched,
               "seconds": round(time.time() - t_all, 1), "tolerance": {"relative": RELATIVE_TOLERANCE,
                                                                       "lsb": LSB_TOLERANCE},
               "refusals": dict(refusals.most_common())}
    out = Path(args.results) if args.results else corpus / "results.json"
    out.write_text(json.dumps({"summary": summary, "results": results}, indent=1) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
