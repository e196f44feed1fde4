#!/usr/bin/env python3
"""Spine benchmark for qcompile: every number is measured in this run and shown next to a peer.

  1. `qcompile` wall time per model, end to end as a user runs it (a fresh Python process:
     start-up + imports + compile + project write), median of N runs, next to bare Python start-up.
  2. Bit-accurate simulator throughput on D01 (samples/s) next to onnxruntime on the float model.
  3. hls4ml's C simulation (ONNX flow, io_parallel, ctypes predict) on D01, when hls4ml and
     qonnx are installed and the conversion works; otherwise skipped with the reason.

Not a test: nothing here asserts on speed; the aims are printed for the record.

    python benchmarks/bench_spine.py            # full run, table on stdout
    python benchmarks/bench_spine.py --quick    # smoke-test sizes
    python benchmarks/bench_spine.py --json     # one JSON object on stdout instead of the table

Progress messages go to stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS_DIR = REPO.parent / "shared/models/dev"
CNN_BATCH_VALUES = 1 << 24
COMPILE_MODELS = ("D01_jet_mlp_float", "D02_jet_mlp_bn_float", "D05_jet_mlp_qonnx_w6a6")
CNN_MODELS = ("D03_conv1d_float", "D04_conv2d_bn_pool_float", "D10_mnist8_cnn_float_gold", "D09_kws_dscnn_qdq_int8",
              "D08_sepconv_qonnx_w4a4_chlast")
SIM_MODEL = "D01_jet_mlp_float"

# Aims, printed for the record (from the issue); never asserted.
AIM_COMPILE_D01_S = 1.0
AIM_SIM_SAMPLES_S = 1_000_000
AIM_SIM_VS_HLS4ML = 50.0
AIM_D01_VS_ORT = 0.5      # issue #12: the simulator against onnxruntime's float speed, same run
AIM_CNN_VS_ORT = 0.25
ISSUE_HLS4ML_SAMPLES_S = 15_500

FULL = {"compile_runs": 3, "sim_batch": 200_000, "sim_reps": 5, "hls4ml_samples": 20_000, "cnn_batch": 2_000}
QUICK = {"compile_runs": 1, "sim_batch": 20_000, "sim_reps": 3, "hls4ml_samples": 2_000, "cnn_batch": 200}


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def model_path(models_dir: Path, name: str) -> Path:
    return models_dir / name / "model.onnx"


@contextlib.contextmanager
def quiet_fds():
    """Send everything written to fds 1 and 2 (Python prints, warnings, child processes) to a
    temporary file; yields a callable returning what was captured (for error messages)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)

        def captured() -> str:
            sys.stdout.flush()
            sys.stderr.flush()
            sink.seek(0)
            return sink.read().decode(errors="replace")

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield captured
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def tail(text: str, n: int = 8) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(lines[-n:])


# ---- 1. qcompile end-to-end wall time -----------------------------------------------------------

def _wall(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return time.perf_counter() - t0, proc


def bench_compile(models_dir: Path, runs: int) -> dict:
    out: dict = {"runs": runs, "models": {}}
    # Python start-up alone, measured the same way, for scale.
    startup = [_wall([sys.executable, "-c", "pass"], REPO)[0] for _ in range(max(runs, 3))]
    out["python_startup_s"] = statistics.median(startup)
    warmed = False
    with tempfile.TemporaryDirectory(prefix="bench_spine_") as tmp:
        for name in COMPILE_MODELS:
            path = model_path(models_dir, name)
            if not path.is_file():
                out["models"][name] = {"error": f"{path}: no such file"}
                log(f"compile {name}: skipped ({path} not found)")
                continue
            cmd = [sys.executable, "-m", "compiler.cli", str(path), "--target", "zcu104",
                   "-o", str(Path(tmp) / name), "--force"]
            if not warmed:  # one untimed run so every run sees warm file caches and .pyc files
                _wall(cmd, REPO)
                warmed = True
            times, err = [], None
            for _ in range(runs):
                dt, proc = _wall(cmd, REPO)
                if proc.returncode != 0:
                    err = f"exit {proc.returncode}: {tail(proc.stderr or proc.stdout, 4)}"
                    break
                times.append(dt)
            if err:
                out["models"][name] = {"error": err}
                log(f"compile {name}: FAILED ({err})")
                continue
            med = statistics.median(times)
            out["models"][name] = {"median_s": med, "times_s": times,
                                   "without_startup_s": med - out["python_startup_s"]}
            log(f"compile {name}: median {med:.3f} s over {runs} run(s)")
    d01 = out["models"].get("D01_jet_mlp_float", {})
    out["aim_d01_s"] = AIM_COMPILE_D01_S
    out["d01_meets_aim"] = None if "median_s" not in d01 else d01["median_s"] < AIM_COMPILE_D01_S
    return out


# ---- 2. simulator vs onnxruntime ------------------------------------------------------------------

def _timeit(fn, reps: int) -> list[float]:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _throughput(n: int, times: list[float]) -> dict:
    return {"samples_per_s": n / statistics.median(times), "best_samples_per_s": n / min(times),
            "times_s": times}


def _free_batch(model):
    """First dimension of every graph input/output symbolic (as compiler/frontend/reference.py does)."""
    for v in list(model.graph.input) + list(model.graph.output):
        if v.type.HasField("tensor_type") and len(v.type.tensor_type.shape.dim) > 0:
            v.type.tensor_type.shape.dim[0].dim_param = "N"
    del model.graph.value_info[:]
    return model


def _float_twin(model):
    """A QONNX model as plain ONNX that onnxruntime runs in float32, the same arithmetic:
    each Quant as its fake-quantization (x / s + z, rounded, clipped, minus z, times s) and
    each channels-last Conv as Transpose, Conv, Transpose. Other models unchanged."""
    import onnx
    from onnx import helper, numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    rnd = {"ROUND": "Round", "FLOOR": "Floor", "CEIL": "Ceil"}
    nodes, extra = [], []
    for k, n in enumerate(model.graph.node):
        a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
        p = f"twin{k}_"
        if n.op_type == "Quant" and n.domain != "":
            x, s, z, bits = n.input
            b, signed, narrow = float(inits[bits]), a.get("signed", 1), a.get("narrow", 0)
            lo = -(2 ** (b - 1)) + narrow if signed else 0.0
            hi = 2 ** (b - 1) - 1 if signed else 2 ** b - 1 - narrow
            extra += [numpy_helper.from_array(np.array(v, np.float32), p + nm) for nm, v in (("lo", lo), ("hi", hi))]
            mode = a.get("rounding_mode", b"ROUND")
            mode = mode.decode() if isinstance(mode, bytes) else mode
            nodes += [helper.make_node("Div", [x, s], [p + "d"]), helper.make_node("Add", [p + "d", z], [p + "a"]),
                      helper.make_node(rnd[mode], [p + "a"], [p + "r"]),
                      helper.make_node("Clip", [p + "r", p + "lo", p + "hi"], [p + "c"]),
                      helper.make_node("Sub", [p + "c", z], [p + "u"]), helper.make_node("Mul", [p + "u", s], list(n.output))]
        elif n.op_type == "Conv" and n.domain == "qonnx.custom_op.channels_last":
            rank = len(a.get("kernel_shape", [1, 1]))
            to_first, to_last = [0, rank + 1] + list(range(1, rank + 1)), [0] + list(range(2, rank + 2)) + [1]
            # its input and its weight (O, *kernel, I) are channels-last
            conv = helper.make_node("Conv", [p + "t", p + "w"] + list(n.input[2:]), [p + "y"], **a)
            nodes += [helper.make_node("Transpose", [n.input[0]], [p + "t"], perm=to_first),
                      helper.make_node("Transpose", [n.input[1]], [p + "w"], perm=to_first), conv,
                      helper.make_node("Transpose", [p + "y"], list(n.output), perm=to_last)]
        else:
            nodes.append(n)
    if len(nodes) == len(model.graph.node):
        return model
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    model.graph.initializer.extend(extra)
    keep = [o for o in model.opset_import if o.domain in ("", "ai.onnx")]
    del model.opset_import[:]
    model.opset_import.extend(keep)
    onnx.checker.check_model(model)
    return model


def _ort_session(path: Path):
    import onnx
    import onnxruntime as ort
    from onnx import version_converter

    model = _float_twin(_free_batch(onnx.load(str(path))))
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    except Exception:
        if opset >= 13:
            raise
        model = version_converter.convert_version(model, 13)  # old opsets may lack ORT kernels
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    inits = {i.name for i in model.graph.initializer}
    feed = next(i.name for i in model.graph.input if i.name not in inits)
    return sess, feed


def bench_sim(models_dir: Path, batch: int, reps: int) -> tuple[dict, np.ndarray | None, object]:
    import compiler
    from compiler.frontend.reference import model_input_shape

    path = model_path(models_dir, SIM_MODEL)
    res: dict = {"model": SIM_MODEL, "batch": batch, "reps": reps}
    if not path.is_file():
        res["error"] = f"{path}: no such file"
        return res, None, None
    shape = model_input_shape(path)
    x = np.random.default_rng(0).standard_normal((batch,) + shape)  # float64, what users pass
    x32 = np.ascontiguousarray(x, dtype=np.float32)

    t0 = time.perf_counter()
    design = compiler.compile_model(str(path))
    res["compile_model_in_process_s"] = time.perf_counter() - t0
    compiler.simulate(design, x)  # warm-up (the compiled loops load on first use)
    y_sim = None

    def run_sim():
        nonlocal y_sim
        y_sim = compiler.simulate(design, x)

    res["qcompile"] = _throughput(batch, _timeit(run_sim, reps))
    log(f"simulate: {res['qcompile']['samples_per_s']:,.0f} samples/s (batch {batch:,})")

    try:
        import onnxruntime as ort

        sess, feed = _ort_session(path)
        sess.run(None, {feed: x32[:1000]})  # warm-up
        y_ort = None

        def run_ort():
            nonlocal y_ort
            y_ort = sess.run(None, {feed: x32})[0]

        res["onnxruntime"] = _throughput(batch, _timeit(run_ort, reps))
        res["onnxruntime"]["version"] = ort.__version__
        res["onnxruntime"]["intra_op_threads"] = "default"
        res["sim_over_ort"] = res["qcompile"]["samples_per_s"] / res["onnxruntime"]["samples_per_s"]
        ys, yo = np.asarray(y_sim).reshape(batch, -1), np.asarray(y_ort).reshape(batch, -1)
        res["max_abs_diff_sim_vs_ort"] = float(np.max(np.abs(ys - yo)))
        res["argmax_agreement_sim_vs_ort"] = float(np.mean(ys.argmax(1) == yo.argmax(1)))
        log(f"onnxruntime: {res['onnxruntime']['samples_per_s']:,.0f} samples/s")
    except Exception as e:  # the peer failing must not hide our own numbers
        res["onnxruntime"] = {"error": f"{type(e).__name__}: {e}"}
        log(f"onnxruntime: FAILED ({e})")
    res["aim_samples_per_s"] = AIM_SIM_SAMPLES_S
    res["meets_aim"] = res["qcompile"]["samples_per_s"] >= AIM_SIM_SAMPLES_S
    return res, x, design


# ---- 4. CNNs: compile time and simulator throughput next to onnxruntime ----------------------------

def bench_cnns(models_dir: Path, batch: int, reps: int, runs: int) -> dict:
    """Per CNN: `qcompile` wall time (fresh process), then the bit-accurate simulator's and
    onnxruntime's throughput on the same inputs (calibrated on a slice of them), with their
    argmax agreement. The simulator takes and returns the model's own layout."""
    import compiler
    from compiler.frontend.reference import model_input_shape

    out: dict = {"batch": batch, "models": {}}
    with tempfile.TemporaryDirectory(prefix="bench_cnn_") as tmp:
        for name in CNN_MODELS:
            path = model_path(models_dir, name)
            if not path.is_file():
                out["models"][name] = {"error": f"{path}: no such file"}
                continue
            r: dict = {}
            cmd = [sys.executable, "-m", "compiler.cli", str(path), "--target", "zcu104", "-o",
                   str(Path(tmp) / name), "--force"]
            times = []
            for _ in range(runs):
                dt, proc = _wall(cmd, REPO)
                if proc.returncode != 0:
                    r["error"] = f"exit {proc.returncode}: {tail(proc.stderr or proc.stdout, 4)}"
                    break
                times.append(dt)
            if "error" in r:
                out["models"][name] = r
                continue
            r["compile_s"] = statistics.median(times)
            shape = model_input_shape(path)
            # large images (D08: 512x512x3, 4M outputs each) in a batch of at most ~16M input values
            batch = min(out["batch"], max(4, CNN_BATCH_VALUES // int(np.prod(shape))))
            r["batch"] = batch
            rng = np.random.default_rng(0)
            x = rng.random((batch,) + shape) * (255 if name.startswith("D10") else 1) if not name.startswith("D09") \
                else rng.normal(scale=30, size=(batch,) + shape)
            design = compiler.compile_model(str(path), calib=x[: max(batch // 4, 50)])
            compiler.simulate(design, x)  # warm-up (the compiled loops load on first use)
            y_sim = None

            def run_sim():
                nonlocal y_sim
                y_sim = compiler.simulate(design, x)

            r["qcompile"] = _throughput(batch, _timeit(run_sim, reps))
            try:
                sess, feed = _ort_session(path)
                x32 = np.ascontiguousarray(x, dtype=np.float32)
                y_ort = None

                def run_ort():
                    nonlocal y_ort
                    y_ort = sess.run(None, {feed: x32})[0]

                try:
                    run_ort()
                except Exception:  # a model that only runs at batch 1 (Flatten axis 0, fixed Reshape)
                    def run_ort():
                        nonlocal y_ort
                        y_ort = np.concatenate([sess.run(None, {feed: x32[i:i + 1]})[0] for i in range(batch)])

                    run_ort()
                    r["onnxruntime_batch"] = 1
                r["onnxruntime"] = _throughput(batch, _timeit(run_ort, reps))
                r["sim_over_ort"] = r["qcompile"]["samples_per_s"] / r["onnxruntime"]["samples_per_s"]
                ys, yo = np.asarray(y_sim).reshape(batch, -1), np.asarray(y_ort).reshape(batch, -1)
                r["argmax_agreement"] = float(np.mean(ys.argmax(1) == yo.argmax(1)))
            except Exception as e:
                r["onnxruntime"] = {"error": f"{type(e).__name__}: {e}"}
            out["models"][name] = r
            log(f"cnn {name}: compile {r['compile_s']:.2f} s, simulate {r['qcompile']['samples_per_s']:,.0f}/s")
    return out


# ---- 3. hls4ml C simulation -------------------------------------------------------------------------

def bench_hls4ml(models_dir: Path, n: int, x: np.ndarray | None, design, backend: str, granularity: str) -> dict:
    res: dict = {"model": SIM_MODEL, "samples": n, "backend": backend, "io_type": "io_parallel",
                 "granularity": granularity, "default_precision": "fixed<16,6>",
                 "issue_reference_samples_per_s": ISSUE_HLS4ML_SAMPLES_S}
    path = model_path(models_dir, SIM_MODEL)
    if x is None or not path.is_file():
        res["skipped"] = f"{path}: no such file"
        return res
    try:
        with quiet_fds():
            import hls4ml
            import qonnx
            import qonnx.util.cleanup
            from qonnx.core.modelwrapper import ModelWrapper
            from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
            from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    except Exception as e:
        res["skipped"] = f"hls4ml/qonnx not importable ({type(e).__name__}: {e})"
        return res
    res["hls4ml_version"] = getattr(hls4ml, "__version__", "?")
    res["qonnx_version"] = getattr(qonnx, "__version__", "?")

    tmp = tempfile.mkdtemp(prefix="bench_spine_hls4ml_")
    stage = "qonnx cleanup"
    try:
        with quiet_fds() as captured:
            try:
                # The recipe of hls4ml's "ONNX and QONNX" frontend docs.
                t0 = time.perf_counter()
                model = ModelWrapper(str(path))
                model = qonnx.util.cleanup.cleanup_model(model)
                model = model.transform(ConvertToChannelsLastAndClean())
                model = model.transform(GemmToMatMul())
                model = qonnx.util.cleanup.cleanup_model(model)
                res["prepare_s"] = time.perf_counter() - t0
                stage = "convert_from_onnx_model"
                t0 = time.perf_counter()
                config = hls4ml.utils.config_from_onnx_model(model, granularity=granularity, backend=backend,
                                                             default_precision="fixed<16,6>")
                hls_model = hls4ml.converters.convert_from_onnx_model(
                    model, output_dir=str(Path(tmp) / "prj"), hls_config=config, backend=backend,
                    io_type="io_parallel")
                res["convert_s"] = time.perf_counter() - t0
                stage = "compile()"
                t0 = time.perf_counter()
                hls_model.compile()  # writes the project and builds the shared library with g++
                res["compile_s"] = time.perf_counter() - t0
                stage = "predict()"
                xh = np.ascontiguousarray(x[:n], dtype=np.float32)
                hls_model.predict(xh[:50])  # warm-up
                t0 = time.perf_counter()
                y_h = hls_model.predict(xh)
                dt = time.perf_counter() - t0
            except Exception:
                res["skipped"] = (f"hls4ml failed in {stage}: {tail(traceback.format_exc(), 1)}\n"
                                  f"{tail(captured(), 6)}")
                return res
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    res["samples_per_s"] = n / dt
    res["predict_s"] = dt
    # Context, not a test: how close each fixed-point model stays to the float model.
    try:
        sess, feed = _ort_session(path)
        y_o = sess.run(None, {feed: xh})[0].reshape(n, -1)
        y_h = np.asarray(y_h, dtype=np.float64).reshape(n, -1)
        import compiler

        y_q = np.asarray(compiler.simulate(design, x[:n])).reshape(n, -1)
        res["max_abs_diff_vs_ort"] = float(np.max(np.abs(y_h - y_o)))
        res["argmax_agreement_vs_ort"] = float(np.mean(y_h.argmax(1) == y_o.argmax(1)))
        res["qcompile_argmax_agreement_vs_ort"] = float(np.mean(y_q.argmax(1) == y_o.argmax(1)))
    except Exception as e:
        res["accuracy_check_error"] = f"{type(e).__name__}: {e}"
    log(f"hls4ml predict: {res['samples_per_s']:,.0f} samples/s; compile() {res['compile_s']:.1f} s")
    return res


# ---- output -----------------------------------------------------------------------------------------

def _fmt_rate(v) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _aim(ok) -> str:
    return "" if ok is None else ("met" if ok else "NOT met")


def print_table(doc: dict) -> None:
    m = doc["meta"]
    print(f"qcompile spine benchmark ({'quick' if m['quick'] else 'full'}) - python {m['python']}, "
          f"numpy {m['numpy']}, {m['cpus']} CPU(s), {m['machine']}")
    print(f"models: {m['models_dir']}")
    print()

    c = doc["compile"]
    print(f"1. qcompile MODEL --target zcu104 -o DIR --force  (wall time, fresh process, median of {c['runs']})")
    print(f"   {'model':<26} {'wall s':>8} {'minus start-up':>15}   aim")
    for name, r in c["models"].items():
        if "error" in r:
            print(f"   {name:<26} ERROR: {r['error']}")
            continue
        aim = ""
        if name == "D01_jet_mlp_float":
            aim = f"< {c['aim_d01_s']:.1f} s incl. start-up: {_aim(c['d01_meets_aim'])}"
        print(f"   {name:<26} {r['median_s']:>8.3f} {r['without_startup_s']:>15.3f}   {aim}")
    print(f"   {'(python -c pass)':<26} {c['python_startup_s']:>8.3f}")
    print()

    s = doc["simulate"]
    print(f"2. throughput on {s['model']}, batch {s['batch']:,} standard-normal samples "
          f"(median of {s['reps']}; best in brackets)")
    if "error" in s:
        print(f"   ERROR: {s['error']}")
    else:
        q = s["qcompile"]
        print(f"   {'qcompile.simulate (bit-accurate)':<38} {_fmt_rate(q['samples_per_s']):>12} samples/s "
              f"[{_fmt_rate(q['best_samples_per_s'])}]   aim >= {s['aim_samples_per_s']:,}: {_aim(s['meets_aim'])}")
        o = s.get("onnxruntime", {})
        if "error" in o:
            print(f"   onnxruntime: ERROR {o['error']}")
        else:
            print(f"   {'onnxruntime ' + o['version'] + ' (float, CPU)':<38} {_fmt_rate(o['samples_per_s']):>12} "
                  f"samples/s [{_fmt_rate(o['best_samples_per_s'])}]")
            print(f"   ratio simulate / onnxruntime: {s['sim_over_ort']:.3f}x   aim >= {AIM_D01_VS_ORT}x: "
                  f"{_aim(s['sim_over_ort'] >= AIM_D01_VS_ORT)}")
            print(f"   (outputs: max |sim - ort| "
                  f"{s['max_abs_diff_sim_vs_ort']:.2e}, argmax agreement {s['argmax_agreement_sim_vs_ort']:.2%}; "
                  f"uncalibrated types)")
        print(f"   (in-process compile_model: {s['compile_model_in_process_s']:.3f} s)")
    print()

    h = doc["hls4ml"]
    print(f"3. hls4ml C simulation on {h['model']} ({h.get('backend')}, io_parallel, granularity "
          f"{h.get('granularity')!r}, {h.get('default_precision')}), "
          f"{h['samples']:,} samples")
    if "skipped" in h:
        print("   skipped: " + h["skipped"].replace("\n", "\n   "))
    else:
        print(f"   hls4ml {h['hls4ml_version']}: prepare (qonnx) {h['prepare_s']:.2f} s, convert "
              f"{h['convert_s']:.2f} s, compile() {h['compile_s']:.1f} s")
        print(f"   {'hls4ml predict':<38} {_fmt_rate(h['samples_per_s']):>12} samples/s   "
              f"(issue's measurement: ~{h['issue_reference_samples_per_s']:,})")
        if "sim_over_hls4ml" in h:
            print(f"   ratio qcompile.simulate / hls4ml: {h['sim_over_hls4ml']:,.1f}x   aim >= "
                  f"{AIM_SIM_VS_HLS4ML:.0f}x: {_aim(h['meets_aim'])}")
        if "argmax_agreement_vs_ort" in h:
            print(f"   vs float onnxruntime on these samples: hls4ml argmax agreement "
                  f"{h['argmax_agreement_vs_ort']:.2%} (max |diff| {h['max_abs_diff_vs_ort']:.2e}); "
                  f"qcompile {h['qcompile_argmax_agreement_vs_ort']:.2%}")
    print()

    cn = doc.get("cnn")
    if cn:
        print(f"4. CNNs: qcompile wall time, and throughput on {cn['batch']:,} inputs (fewer for large images; "
              f"calibrated on a quarter); aim: ratio >= {AIM_CNN_VS_ORT}x")
        print(f"   {'model':<30} {'compile s':>9} {'batch':>6} {'simulate/s':>12} {'onnxruntime/s':>14} {'ratio':>7} "
              f"{'aim':>7} {'argmax':>8}")
        for name, r in cn["models"].items():
            if "error" in r:
                print(f"   {name:<30} ERROR: {r['error']}")
                continue
            o = r.get("onnxruntime", {})
            ort_rate = "-" if "error" in o else _fmt_rate(o["samples_per_s"])
            ratio = "-" if "sim_over_ort" not in r else f"{r['sim_over_ort']:.3f}x"
            agree = "-" if "argmax_agreement" not in r else f"{r['argmax_agreement']:.1%}"
            aim = "-" if "sim_over_ort" not in r else _aim(r["sim_over_ort"] >= AIM_CNN_VS_ORT)
            print(f"   {name:<30} {r['compile_s']:>9.2f} {r.get('batch', cn['batch']):>6,} "
                  f"{_fmt_rate(r['qcompile']['samples_per_s']):>12} {ort_rate:>14} {ratio:>7} {aim:>7} {agree:>8}")
        print()
    print(f"total benchmark time {m['total_s']:.1f} s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR,
                    help=f"folder of the dev models (default: {DEFAULT_MODELS_DIR})")
    ap.add_argument("--quick", action="store_true", help="smoke-test sizes (1 compile run, 20k batch, 2k hls4ml)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--skip-hls4ml", action="store_true", help="do not run the hls4ml peer (slow: a g++ build)")
    ap.add_argument("--hls4ml-backend", default="Vitis", choices=("Vitis", "Vivado"))
    ap.add_argument("--hls4ml-granularity", default="model", choices=("model", "type", "name"),
                    help="config_from_onnx_model granularity (default 'model': every result fixed<16,6>; "
                         "'name' infers 'auto' widths, which in hls4ml 1.3 leave D01's softmax output constant)")
    args = ap.parse_args(argv)

    sizes = QUICK if args.quick else FULL
    models_dir = args.models_dir.resolve()
    t_start = time.perf_counter()
    doc: dict = {"meta": {"quick": args.quick, "models_dir": str(models_dir), "python": platform.python_version(),
                          "numpy": np.__version__, "cpus": os.cpu_count(), "machine": platform.machine(),
                          "sizes": sizes}}
    log(f"models from {models_dir}")
    doc["compile"] = bench_compile(models_dir, sizes["compile_runs"])
    doc["simulate"], x, design = bench_sim(models_dir, sizes["sim_batch"], sizes["sim_reps"])
    if args.skip_hls4ml:
        doc["hls4ml"] = {"model": SIM_MODEL, "samples": sizes["hls4ml_samples"], "backend": args.hls4ml_backend,
                         "skipped": "--skip-hls4ml"}
    else:
        log("hls4ml: converting and building the C simulation (g++; takes a while)")
        doc["hls4ml"] = bench_hls4ml(models_dir, sizes["hls4ml_samples"], x, design, args.hls4ml_backend,
                                     args.hls4ml_granularity)
        if "skipped" in doc["hls4ml"]:
            log(f"hls4ml skipped: {doc['hls4ml']['skipped'].splitlines()[0]}")
    doc["cnn"] = bench_cnns(models_dir, sizes["cnn_batch"], sizes["sim_reps"], sizes["compile_runs"])
    h, s = doc["hls4ml"], doc["simulate"]
    if "samples_per_s" in h and "qcompile" in s:
        h["sim_over_hls4ml"] = s["qcompile"]["samples_per_s"] / h["samples_per_s"]
        h["aim_ratio"] = AIM_SIM_VS_HLS4ML
        h["meets_aim"] = h["sim_over_hls4ml"] >= AIM_SIM_VS_HLS4ML
    doc["meta"]["total_s"] = time.perf_counter() - t_start

    if args.json:
        print(json.dumps(doc, indent=1, default=str))
    else:
        print_table(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
