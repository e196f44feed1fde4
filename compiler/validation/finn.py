"""FINN ground truth (../shared/groundtruth/finn_synth.jsonl): real Vivado results of FINN
streaming designs with their exact folding, rebuilt as the design qcompile emits for the same
layers and folding, and estimated with the compiler's own estimator.

A row describes matrix-vector units (MVAU: MW inputs, MH outputs, PE x SIMD lanes, input /
weight / output types, thresholds fused or not). Each becomes a QONNX model built here
(random weights on the row's weight grid: ternary for narrow 2-bit, +-1 for 1-bit; the
thresholds of a 2-bit or bipolar output as a Quant), compiled by compile_model with the
row's PE and SIMD for every layer, on the board of the row's part. Families:
    finn-network   whole stitched designs (the UNSW-NB15 MLP of FINN's tutorial, D07's network)
    finn-mvau      single HLS MVAUs (finn-hlslib, Vivado synthesis)
    finn-mvau-rtl  the same geometries with FINN's RTL MVU: a hand-written datapath, not
                   what qcompile emits (listed as a microarchitecture mismatch, never fitted)
Measured BRAM is compared only where the row states its unit (BRAM_18K / BRAM_36K, or 36K
tiles for the RTL rows): older rows count RAMB18 and RAMB36 primitives together.
"""
from __future__ import annotations

import re

import numpy as np

from .groundtruth import Design, Unmodeled, board_for_part, device_of, target_for

RTL_REASON = ("FINN's RTL MVU (a hand-written RTL datapath); qcompile emits the HLS MVAU, so these rows check a "
              "different microarchitecture")


def is_finn_row(row: dict) -> bool:
    return "granularity" in row and (isinstance(row.get("layers"), str) or (isinstance(row.get("layers"), list) and
                                     any("PE" in L for L in row["layers"] if isinstance(L, dict))))


def resolve(rows: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """Rows whose `layers` refer to another row's build ("same build config as row X") take
    that row's layers (an on-board measurement of the same design)."""
    by_id = {r.get("id"): r for _, r in rows if isinstance(r, dict)}
    out = []
    for where, r in rows:
        if is_finn_row(r) and isinstance(r.get("layers"), str):
            ref = next((by_id[i] for i in by_id if i and i in r["layers"] and isinstance(by_id[i].get("layers"), list)),
                       None)
            if ref is not None:
                r = dict(r, layers=ref["layers"], layers_from=ref["id"])
        out.append((where, r))
    return out


def family(row: dict) -> str:
    if str(row.get("granularity", "")).startswith("whole_"):
        return "finn-network"
    return "finn-mvau-rtl" if _is_rtl(row) else "finn-mvau"


def _is_rtl(row: dict) -> bool:
    return str(row.get("id", "")).endswith("-rtl")


def mismatch(row: dict) -> str | None:
    return RTL_REASON if family(row) == "finn-mvau-rtl" else None


def _part(row: dict) -> str:
    """The part the row was built for (the single-MVAU rows name two: the RTL script's, and
    per finn-hlslib test the HLS one, xc7z020 for standard-precision weights)."""
    text = str(row.get("part", ""))
    if row.get("granularity") != "single_layer" or _is_rtl(row):
        return text.split()[0] if text else text
    w = int(row["layers"][0].get("weight_bits") or 1)
    return "xc7z020clg400-1" if w > 1 else "xczu3eg-sbva484-1-e"


def _bits(L: dict, key: str, type_key: str) -> tuple[int, bool]:
    """(bits, bipolar) of a layer's input/weights from the row's fields."""
    t = str(L.get(type_key) or "").upper()
    if "BIPOLAR" in t or "BINARY" in t:
        return 1, True
    m = re.search(r"(\d+)", t)
    if m:
        return int(m.group(1)), False
    b = int(L.get(key) or 1)
    return b, b == 1


def _model(row: dict, rng: np.random.Generator):
    """The row's layers as a QONNX model (qonnx.custom_op.general Quant/BipolarQuant)."""
    from onnx import TensorProto, helper, numpy_helper

    dom = "qonnx.custom_op.general"
    layers = row["layers"]
    nodes, inits = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def quant(name, x, out, bits, signed, narrow, scale=1.0):
        nodes.append(helper.make_node("Quant", [x, const(f"{name}_s", scale), const(f"{name}_z", 0.0),
                                                const(f"{name}_b", float(bits))], [out], name=name, domain=dom,
                                      signed=int(signed), narrow=int(narrow), rounding_mode="ROUND"))

    def bipolar(name, x, out):
        nodes.append(helper.make_node("BipolarQuant", [x, const(f"{name}_s", 1.0)], [out], name=name, domain=dom))

    first = layers[0]
    mw0 = int(first.get("MW") or first.get("MW_derived"))
    in_bits, in_bipolar = _bits(first, "input_bits", "in_type")
    if in_bipolar:
        bipolar("in_q", "x", "x_q")
    else:
        quant("in_q", "x", "x_q", in_bits, True, False)
    cur = "x_q"
    for k, L in enumerate(layers):
        mw, mh = int(L.get("MW") or L.get("MW_derived")), int(L.get("MH") or L.get("MH_derived"))
        w_bits, w_bipolar = _bits(L, "weight_bits", "weight_type")
        if w_bipolar:
            w = rng.choice([-1.0, 1.0], size=(mw, mh))
            bipolar(f"w{k}_q", const(f"W{k}", w), f"W{k}_q")
        else:
            hi = 2 ** (w_bits - 1) - 1
            w = rng.integers(-hi, hi + 1, size=(mw, mh)).astype(float)   # narrow: symmetric, as Brevitas
            quant(f"w{k}_q", const(f"W{k}", w), f"W{k}_q", w_bits, True, True)
        nodes.append(helper.make_node("MatMul", [cur, f"W{k}_q"], [f"mm{k}"], name=f"mvau{k}"))
        out_t = str(L.get("out_type") or "").upper()
        if "BIPOLAR" in out_t:
            nodes.append(helper.make_node("Add", [f"mm{k}", const(f"B{k}", rng.normal(size=mh))], [f"s{k}"],
                                          name=f"bias{k}"))
            bipolar(f"act{k}", f"s{k}", f"a{k}")
        elif re.match(r"U?INT\d+", out_t):   # thresholds fused: a quantizer after a per-channel scale
            bits = int(re.search(r"(\d+)", out_t).group(1))
            spread = 2.0 ** bits / (4.0 * np.sqrt(mw))
            nodes.append(helper.make_node("Mul", [f"mm{k}", const(f"S{k}", rng.uniform(0.5, 1.5, mh) * spread)],
                                          [f"m{k}"], name=f"scale{k}"))
            nodes.append(helper.make_node("Add", [f"m{k}", const(f"B{k}", rng.uniform(0, 2.0 ** bits - 1, mh))],
                                          [f"s{k}"], name=f"bias{k}"))
            quant(f"act{k}", f"s{k}", f"a{k}", bits, out_t.startswith("INT"), False)
        else:                                # the accumulator itself (no activation)
            nodes[-1].output[0] = f"a{k}"
        cur = f"a{k}"
    nodes[-1].output[0] = "y"
    mh_last = int(layers[-1].get("MH") or layers[-1].get("MH_derived"))
    graph = helper.make_graph(nodes, str(row.get("id", "finn")),
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, mw0])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, mh_last])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(dom, 1)])
    m.ir_version = 8
    return m


def build_design(row: dict, seed: int = 0) -> Design:
    """The qcompile design of a FINN row: its MVAUs at the row's PE x SIMD, on its board."""
    import compiler

    part = _part(row)
    board = board_for_part(part)
    if board is None:
        raise Unmodeled(f"part {part!r} ({device_of(part)}) has no board in hw_models")
    layers = row.get("layers") or []
    if not isinstance(layers, list) or not layers or any("PE" not in L or "SIMD" not in L for L in layers):
        raise Unmodeled("layers without PE/SIMD")
    clock_ns = float(row.get("target_clock_ns") or 10.0)
    model = _model(row, np.random.default_rng(seed))
    settings = {f"mvau{k}": {"pe": int(L["PE"]), "simd": int(L["SIMD"])} for k, L in enumerate(layers)}
    try:
        design = compiler.compile_model(model, board, clock_mhz=1000.0 / clock_ns, layers=settings)
    except compiler.CompileError as e:
        raise Unmodeled(f"does not compile: {e}") from None
    tool = "vitis_hls" if "vitis" in str(row.get("tool_version", "")).lower() else "vivado_hls"
    target = target_for(board, clock_ns, tool, "io_stream")
    names = {n.name: [n.name] for n in design.graph.nodes()}
    return Design(design.graph, target, names, [], family(row), board, tool, "io_stream")


def measured(row: dict) -> dict:
    """The row's measurements in the error table's metrics (None where not comparable)."""
    m = row.get("measured") or {}
    out = {"latency": None, "ii": None, "lut": _num(m.get("LUT")), "ff": _num(m.get("FF")),
           "dsp": _num(m.get("DSP")) if "DSP" in m else None, "bram_18k": None}
    if m.get("throughput_images_per_s") and m.get("fclk_mhz"):   # on board: cycles per inference
        out["ii"] = float(m["fclk_mhz"]) * 1e6 / float(m["throughput_images_per_s"])
    unit = str(row.get("bram_unit", "")).lower()
    if m.get("BRAM_36K") is not None or m.get("BRAM_18K") is not None:
        out["bram_18k"] = 2 * float(m.get("BRAM_36K") or 0) + float(m.get("BRAM_18K") or 0)
    elif row.get("granularity") == "single_layer" and m.get("BRAM") is not None:
        out["bram_18k"] = float(m["BRAM"]) * (2 if _is_rtl(row) else 1)   # RTL: 36K tiles; HLS: 18K
    elif "tile" in unit and m.get("BRAM") is not None:
        out["bram_18k"] = 2 * float(m["BRAM"])
    rt = row.get("rtlsim") or {}
    if rt.get("latency_cycles") is not None:
        out["latency"] = float(rt["latency_cycles"])
    return out


def finn_estimate(row: dict) -> dict | None:
    """FINN's own analytic estimate of the row's design, where the row has one."""
    est = row.get("finn_estimate_not_measured")
    if not isinstance(est, dict) or not isinstance(est.get("total"), dict):
        return None
    t = est["total"]
    return {"lut": _num(t.get("LUT")), "bram_18k": _num(t.get("BRAM_18K")), "dsp": _num(t.get("DSP"))}


def _num(v):
    return None if v is None else float(v)
