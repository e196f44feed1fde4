"""Ground truth: estimate the designs of real synthesis reports with our own cost model.

A ground-truth file (schema: ../shared/groundtruth/README.md) holds one JSON object per line:
an hls4ml-style design (layers with their precisions, reuse factors and strategy, io type,
FPGA part, clock, HLS tool) and what synthesis measured. `build_design(row)` turns a row into
qcompile IR nodes -- the ops the compiler emits (Dense, Conv, Pool, Relu, PRelu, Elu,
Sigmoid, Tanh, Softmax, Affine) with the row's types and parallelism -- on the board of the
row's part, and `compare_row` estimates it with the compiler's own estimator, i.e. the
same op cost() methods and kernel formulas (compiler/ops, compiler/cost/hardware.py) the compiler uses
for the designs it emits. There is no second model here: the only inputs besides the design
are the ones a row names and the compiler also knows (part -> board, clock, HLS tool family,
whether the design's layer interfaces are streams or plain arrays).

What we predict. The cost model predicts the HLS C-synthesis estimate (the csynth report
of the top function), which is what `build.tcl` produces and what most rows measured.
Resources measured after Vivado logic synthesis (wa-hls4ml rows, the SVHN network's
`vivado_synth` block) are compared with our estimate times the fabric's stage factors
`synth_{lut,ff,dsp,bram}_factor` (coefficients.toml; fitted on designs measured at both
stages): HLS over-estimates LUTs about 2x against synthesis.

Comparisons. Every design row gives one comparison (family from its layers, see
`family_of`), plus one for a `vivado_synth` block (`<id>@synth`, resources only). A row with
per-layer measurements (networks.jsonl: the report's instance table) also gives one
comparison per layer instance, family "network" like the whole design, so leaving the
family out leaves out everything measured on that network. io_stream designs include the
inter-layer FIFOs the row names (depth from the spec, else hls4ml's default: the whole
tensor), costed with the compiler's FIFO formula (cost.hardware.fifo).

Rows we cannot model are never dropped: `evaluate` returns them with the reason (an op or
activation we have no kernel for, missing fields, an unknown part, or a microarchitecture
qcompile does not emit: hls4ml's io_parallel convolution/pooling unrolls every output
position; `include_mismatched=True` estimates those with our streaming formulas anyway, in
families "mismatched-*"). A VivadoAccelerator row's csynth measures hls4ml's float AXI
wrapper, which is listed as left out ("partial"); its `vivado_synth` block measures the
wrapped design itself and is compared.

Weights: the rows carry no values, so layers get glorot-uniform magnitudes on the weight
type's grid (no accidental zeros; a row's `pruned_sparsity_target` share set to zero),
from a fixed seed. Activation slopes take the type the compiler would give the constant.

Error measure. For a metric with predicted p and measured m, both are first floored at
FLOORS[metric] (1 cycle, 1 DSP, 1 BRAM, 10 LUT/FF), so a measured 0 is compared with "at
most one unit": APE = |p' - m'| / m', and "within 2x" means max(p'/m', m'/p') <= 2.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..cost.model import RESOURCES
from ..cost.target import Target, coefficients_for, load_target, raw_coefficients
from ..ir import Graph, Node, Tensor
from ..numerics import FixedType, exact_type
from ..resources import data_dir  # noqa: F401  (also used by the benchmark scripts)

METRICS = ("latency", "ii", "dsp", "lut", "ff", "bram_18k")
FLOORS = {"latency": 1.0, "ii": 1.0, "dsp": 1.0, "lut": 10.0, "ff": 10.0, "bram_18k": 1.0}
FAMILIES = ("dense-latency", "activations", "conv", "pooling", "dense-resource", "network", "finn-network",
            "finn-mvau", "finn-mvau-rtl")
DEFAULT_PRECISION = "ap_fixed<16,6>"   # hls4ml's default when a row leaves a type unknown
STAGE_KEYS = {"lut": "synth_lut_factor", "ff": "synth_ff_factor", "dsp": "synth_dsp_factor",
              "bram_18k": "synth_bram_factor"}

# Extra part -> board names for dies whose board file names another package/speed grade.
# Everything else resolves through the parts named in hw_models/*.toml (same device).
PART_ALIASES = {"xcvu13p": "vu13p", "xcu250": "alveo-u250", "xcu200": "alveo-u200", "xcvu9p": "vu9p",
                "xc7z020": "pynq-z2", "xczu9eg": "zcu102", "xczu7ev": "zcu104", "xczu3eg": "ultra96v2",
                "xck26": "kv260"}


class Unmodeled(Exception):
    """A row (or layer) our model cannot describe; the message is the reason."""


# ---- part, tool, stage ---------------------------------------------------------------------

def device_of(part: str) -> str:
    """'xcvu13p-flga2577-2-e' -> 'xcvu13p', 'xc7z020clg400-1' -> 'xc7z020', 'xczu9eg-ffvb1156-2-e'
    -> 'xczu9eg': the die, without package, speed grade and temperature range."""
    p = part.strip().lower().split("-")[0]
    m = re.match(r"^(xc(?:7[a-z]|[a-z]+)\d+[a-z]{0,2}?)(?:[a-z]{2,4}\d+)?$", p)
    return m.group(1) if m else p


_BOARD_OF_DEVICE: dict[str, str] | None = None


def board_for_part(part: str | None) -> str | None:
    """The hw_models board whose device is the row's part, or None."""
    global _BOARD_OF_DEVICE
    if not part:
        return None
    if _BOARD_OF_DEVICE is None:
        import tomllib
        table = {}
        for path in sorted(data_dir("hw_models").glob("*.toml")):
            if path.stem == "coefficients":
                continue
            try:
                doc = tomllib.loads(path.read_text())
            except Exception:  # noqa: BLE001 - a broken board file just does not resolve
                continue
            if "part" in doc:
                table.setdefault(device_of(str(doc["part"])), path.stem)
        for dev, board in PART_ALIASES.items():
            if (data_dir("hw_models") / f"{board}.toml").is_file():
                table.setdefault(dev, board)
        _BOARD_OF_DEVICE = table
    return _BOARD_OF_DEVICE.get(device_of(part))


def tool_family(tool: str | None) -> str:
    """'vivado_hls' (Vivado HLS, up to 2020.1) or 'vitis_hls' (Vitis HLS, 2020.1 on); the HLS
    tool decides the csynth numbers, a downstream Vivado run does not."""
    t = (tool or "").lower()
    if "vitis" in t:
        return "vitis_hls"
    if "vivado hls" in t or "vivado_hls" in t or "vivadohls" in t:
        return "vivado_hls"
    if "catapult" in t:
        return "catapult"
    return "vitis_hls"


def resource_stage(measured: dict) -> str:
    """'hls' (C-synthesis estimate) or 'synth' (Vivado synthesis or later) for a measured block."""
    text = str(measured.get("resource_stage") or measured.get("stage") or "").lower()
    if "c-synthesis" in text or "csynth" in text or "c synthesis" in text or not text:
        if "vivado logic synthesis" not in text and "synth_design" not in text:
            return "hls"
    return "synth"


def row_coeff(table: dict, family: str, io_type: str) -> dict:
    """Coefficients for one row: the raw fabric table with the tool family's overrides and the
    row's interface style (see cost.target.coefficients_for)."""
    return coefficients_for(table, family, io_type)


def target_for(board: str, clock_ns: float | None, family: str, io_type: str, table: dict | None = None) -> Target:
    """The board's target at the row's clock with the row's coefficients (see row_coeff);
    `table` replaces the fabric's coefficient table (the fitting script's candidates)."""
    t = load_target(board, clock_mhz=1000.0 / clock_ns if clock_ns else None)
    return replace(t, coeff=row_coeff(raw_coefficients(t.fabric) if table is None else table, family, io_type))


# ---- types -------------------------------------------------------------------------------

def parse_type(text: str | None, default: str = DEFAULT_PRECISION) -> FixedType:
    """ap_fixed<W,I[,Q,O]>, ap_ufixed<...>, ap_int<W>, ap_uint<W>; None/'auto' -> default."""
    if text is None or str(text).strip().lower() in ("", "auto", "none", "null"):
        text = default
    s = str(text).strip()
    m = re.fullmatch(r"ap_(u?)int\s*<\s*(\d+)\s*>", s)
    if m:
        w = int(m.group(2))
        return FixedType(w, w, m.group(1) != "u")
    s = re.sub(r"^fixed<", "ap_fixed<", s)
    s = re.sub(r"^ufixed<", "ap_ufixed<", s)
    try:
        return FixedType.parse(s)
    except ValueError as e:
        m = re.fullmatch(r"ap_(u?)fixed\s*<\s*(\d+)\s*,\s*(-?\d+)\s*(?:,[^>]*)?>", s)
        if m and int(m.group(2)) > 0:  # wider than qcompile's types: the cost model needs its width only
            return WideType(int(m.group(2)), int(m.group(3)), m.group(1) != "u")
        raise Unmodeled(f"type {text!r} cannot be parsed ({e})") from None


@dataclass(frozen=True)
class WideType:
    """Stand-in for an ap_fixed type wider than FixedType allows (hls4ml's 69-bit depthwise
    accumulators): the cost formulas read widths only."""

    width: int
    int_bits: int
    signed: bool = True

    @property
    def frac_bits(self) -> int:
        return self.width - self.int_bits

    def cpp(self) -> str:
        return f"ap_{'' if self.signed else 'u'}fixed<{self.width},{self.int_bits}>"


# ---- designs -----------------------------------------------------------------------------

@dataclass
class Design:
    graph: Graph
    target: Target
    layer_nodes: dict[str, list[str]]                    # spec layer name -> IR node names
    fifos: list[tuple[int, int, int]] = field(default_factory=list)   # (streams, bits, depth)
    family: str = ""
    board: str = ""
    tool_family: str = ""
    io_type: str = "io_parallel"


class _Builder:
    def __init__(self, row: dict, rng: np.random.Generator):
        self.row = row
        self.rng = rng
        self.default = row.get("default_precision") or DEFAULT_PRECISION
        self.g = Graph(name=str(row.get("id", "row")))
        self.layer_nodes: dict[str, list[str]] = {}
        self.k = 0
        shape = row.get("input_shape")
        if not shape:
            raise Unmodeled("no input_shape")
        x = Tensor("input", tuple(int(v) for v in shape), parse_type(row.get("input_precision"), self.default))
        self.g.add_tensor(x)
        self.g.inputs = ["input"]
        self.cur = x

    def ty(self, layer: dict, key: str) -> FixedType:
        return parse_type(layer.get(key), self.default)

    def add(self, spec_name: str, op, out_shape, out_type: FixedType) -> Tensor:
        self.k += 1
        name = f"n{self.k}_{re.sub(r'[^A-Za-z0-9_]', '_', spec_name)}"
        out = Tensor(f"t{self.k}", tuple(int(v) for v in out_shape), out_type)
        self.g.add_tensor(out)
        self.g.add_node(Node(name, op, [self.cur.name], [out.name], source=spec_name))
        self.layer_nodes.setdefault(spec_name, []).append(name)
        self.cur = out
        return out

    # weights: the spec has no values; glorot-uniform magnitudes on the weight type's grid,
    # no accidental zeros, then the spec's pruned fraction set to zero
    def weights(self, n_in: int, n_out: int, wt: FixedType, sparsity: float | None) -> np.ndarray:
        limit = min(math.sqrt(6.0 / (n_in + n_out)), float(wt.max_value))
        codes = wt.quantize(self.rng.uniform(-limit, limit, (n_in, n_out)))
        zero = codes == 0
        codes[zero] = np.where(self.rng.random(int(zero.sum())) < 0.5, -1, 1)
        codes = np.clip(codes, wt.min_code, wt.max_code)
        codes[codes == 0] = wt.max_code
        if sparsity:
            n = int(round(float(sparsity) * codes.size))
            idx = self.rng.choice(codes.size, size=n, replace=False)
            codes.reshape(-1)[idx] = 0
        return wt.to_float(codes)

    def layer(self, L: dict, i: int) -> None:
        op = str(L.get("op", ""))
        name = str(L.get("name") or f"{op}_{i}")
        if op == "Dense":
            self.dense(L, name)
        elif op in ("Conv1D", "Conv2D", "DepthwiseConv1D", "DepthwiseConv2D"):
            self.conv(L, name, op)
        elif op in ("MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
                    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
                    "GlobalAveragePooling2D"):
            self.pool(L, name, op)
        elif op == "Activation":
            self.activation(L, name, str(L.get("activation", "linear")).lower())
        elif op == "Softmax":
            self.activation(L, name, "softmax")
        elif op == "BatchNormalization":
            self.batchnorm(L, name)
        elif op in ("Flatten", "Reshape", "Dropout", "InputLayer"):
            return  # no hardware: Dense reads any tensor whose size is a multiple of n_in
        else:
            raise Unmodeled(f"layer {name!r}: op {op!r} has no qcompile kernel mapping")

    def rf(self, L: dict) -> int:
        for key in ("reuse_factor_effective_derived", "reuse_factor_effective", "reuse_factor"):
            if L.get(key):
                return int(L[key])
        return int(self.row.get("reuse_factor") or 1)

    def dense(self, L: dict, name: str) -> None:
        from ..ops.dense import Dense

        try:
            n_in, n_out = int(L["in"]), int(L["out"])
        except (KeyError, TypeError, ValueError):
            raise Unmodeled(f"layer {name!r}: Dense without 'in'/'out'") from None
        if self.cur.size % n_in:
            raise Unmodeled(f"layer {name!r}: Dense n_in={n_in} does not divide its input of {self.cur.size} values")
        wt, acc, y = self.ty(L, "weight"), self.ty(L, "accum"), self.ty(L, "result")
        act = str(L.get("activation") or "linear").lower()
        w = self.weights(n_in, n_out, wt, L.get("pruned_sparsity_target"))
        bias = np.zeros(n_out) if L.get("use_bias", True) else None
        rf = max(1, min(self.rf(L), n_in * n_out))
        if self.cur.shape[-1] != n_in and self.cur.size // n_in == 1:
            # a flattened image: the compiler regroups the pixel stream into one vector item
            # (Reshape, the importer's repack stage) before the MAC array
            try:
                from ..ops.reshape import Reshape
            except ImportError:  # pragma: no cover - op not available in this tree
                Reshape = None
            if Reshape is not None:
                self.add(name, Reshape(out_shape=(n_in,)), (n_in,), self.cur.type)
        op = Dense(weight=w, bias=bias, activation="relu" if act == "relu" else None,
                   weight_type=wt, bias_type=self.ty(L, "bias") if bias is not None else None, accum_type=acc)
        op.reuse_factor = _nearest_reuse(op, rf)
        self.add(name, op, self.cur.shape[:-1] + (n_out,) if self.cur.shape[-1] == n_in else (n_out,), y)
        if act not in ("linear", "relu", "none"):
            self.activation({"result": L.get("result")}, name, act)

    def conv(self, L: dict, name: str, op_name: str) -> None:
        from ..ops.conv import Conv

        try:
            in_shape, out_shape = tuple(L["in_shape"]), tuple(L["out_shape"])
            kernel = tuple(int(k) for k in L["kernel"])
        except (KeyError, TypeError):
            raise Unmodeled(f"layer {name!r}: {op_name} without in_shape/out_shape/kernel") from None
        rank = len(kernel)
        if tuple(self.cur.shape) != in_shape:
            raise Unmodeled(f"layer {name!r}: in_shape {list(in_shape)} does not follow the previous "
                            f"layer's output {list(self.cur.shape)}")
        strides = tuple(int(s) for s in (L.get("strides") or (1,) * rank))
        pads = self._pads(L, rank, in_shape, out_shape, kernel, strides, name)
        cin = in_shape[-1]
        depthwise = op_name.startswith("Depthwise")
        if depthwise:
            groups, n_out = cin, cin * int(L.get("depth_multiplier") or 1)
            k_in = int(np.prod(kernel))
        else:
            groups, n_out = 1, int(L.get("filters") or out_shape[-1])
            k_in = int(np.prod(kernel)) * cin
        wt, acc, y = self.ty(L, "weight"), self.ty(L, "accum"), self.ty(L, "result")
        act = str(L.get("activation") or "linear").lower()
        w = self.weights(k_in, n_out, wt, L.get("pruned_sparsity_target"))
        bias = np.zeros(n_out) if L.get("use_bias", True) else None
        rf = max(1, min(self.rf(L), k_in * n_out))
        op = Conv(weight=w, bias=bias, activation="relu" if act == "relu" else None,
                  weight_type=wt, bias_type=self.ty(L, "bias") if bias is not None else None, accum_type=acc,
                  kernel_shape=kernel, strides=strides, dilations=(1,) * rank, pads=pads, groups=groups)
        op.reuse_factor = _nearest_reuse(op, rf)
        got = op.infer_shapes([in_shape])[0]
        if tuple(got) != out_shape:
            raise Unmodeled(f"layer {name!r}: our window geometry gives {list(got)}, the spec says {list(out_shape)}")
        self.add(name, op, out_shape, y)
        if act not in ("linear", "relu", "none"):
            self.activation({"result": L.get("result")}, name, act)

    def _pads(self, L, rank, in_shape, out_shape, kernel, strides, name):
        """ONNX order (begins, then ends)."""
        if rank == 2 and L.get("pads_tblr") is not None:
            t, b, l, r = (int(v) for v in L["pads_tblr"])
            return (t, l, b, r)
        if rank == 1 and L.get("pads_lr") is not None:
            l, r = (int(v) for v in L["pads_lr"])
            return (l, r)
        padding = str(L.get("padding", "valid")).lower()
        if padding == "valid":
            return (0,) * (2 * rank)
        if padding == "same":  # Keras: total = max((out-1)*s + k - in, 0), the extra one at the end
            begins, ends = [], []
            for a in range(rank):
                total = max((out_shape[a] - 1) * strides[a] + kernel[a] - in_shape[a], 0)
                begins.append(total // 2)
                ends.append(total - total // 2)
            return tuple(begins + ends)
        raise Unmodeled(f"layer {name!r}: padding {padding!r} not understood")

    def pool(self, L: dict, name: str, op_name: str) -> None:
        from ..ops.base import FormatPolicy, TypingContext
        from ..ops.pool import Pool

        is_global = op_name.startswith("Global")
        mode = "max" if "Max" in op_name else "avg"
        in_shape = tuple(L.get("in_shape") or self.cur.shape)
        if tuple(self.cur.shape) != in_shape:
            raise Unmodeled(f"layer {name!r}: in_shape {list(in_shape)} does not follow the previous "
                            f"layer's output {list(self.cur.shape)}")
        rank = len(in_shape) - 1
        if is_global:
            op = Pool(mode=mode, is_global=True)
        else:
            try:
                kernel = tuple(int(k) for k in L["pool"])
                out_shape = tuple(L["out_shape"])
            except (KeyError, TypeError):
                raise Unmodeled(f"layer {name!r}: {op_name} without pool/out_shape") from None
            strides = tuple(int(s) for s in (L.get("strides") or kernel))
            pads = self._pads(L, rank, in_shape, out_shape, kernel, strides, name)
            op = Pool(mode=mode, kernel_shape=kernel, strides=strides, dilations=(1,) * rank, pads=pads,
                      count_include_pad=bool(L.get("count_pad", False)))
        out_shape = tuple(op.infer_shapes([in_shape])[0])
        if not is_global and out_shape != tuple(L["out_shape"]):
            raise Unmodeled(f"layer {name!r}: our window geometry gives {list(out_shape)}, "
                            f"the spec says {list(L['out_shape'])}")
        y = self.ty(L, "result") if mode == "avg" else self.cur.type
        x = self.cur
        out = self.add(name, op, out_shape, y)
        node = self.g.node(self.layer_nodes[name][-1])
        op.assign_types(TypingContext(node=node, inputs=[x], outputs=[out], out_bounds=[], proven=True,
                                      policy=FormatPolicy()))

    def activation(self, L: dict, name: str, act: str) -> None:
        from ..ops._activation import constant_type
        from ..ops.elu import SELU_ALPHA, SELU_GAMMA, Elu
        from ..ops.prelu import PRelu
        from ..ops.relu import Relu
        from ..ops.sigmoid import Sigmoid
        from ..ops.softmax import Softmax
        from ..ops.softplus import Softplus
        from ..ops.tanh import Tanh

        x = self.cur
        y = self.ty(L, "result")
        if act in ("linear", "none"):
            return
        if act == "relu":
            self.add(name, Relu(), x.shape, y)
        elif act in ("leaky_relu", "leakyrelu", "prelu"):
            alpha = L.get("alpha", 0.3)
            slope = np.zeros(x.shape[-1]) if act == "prelu" or not isinstance(alpha, (int, float)) \
                else np.array([float(alpha)])
            # the slope is a constant: the compiler quantizes it to the fewest bits it needs
            # (constant_type), whatever container type the spec names for it
            st = constant_type(slope, max(-x.type.min_value, 0.0), y.frac_bits)
            acc = exact_type(x.type.min_code * st.max_code if x.type.signed else 0,
                             max(x.type.max_code << max(st.frac_bits, 0), 1), x.type.frac_bits + st.frac_bits)
            self.add(name, PRelu(slope=slope, slope_type=st, accum_type=acc), x.shape, y)
        elif act in ("elu", "selu", "sigmoid", "tanh", "softplus"):
            size = int(L.get("table_size") or 1024)
            # hls4ml's tables: sigmoid/softplus over [-8, 8), tanh over [-4, 4), elu/selu over [-8, 0)
            if act in ("elu", "selu"):
                if act == "selu":
                    op = Elu(alpha=SELU_ALPHA, gamma=SELU_GAMMA)
                    op.gamma_type = constant_type([SELU_GAMMA], max(x.type.max_value, 0.0), y.frac_bits)
                else:
                    alpha = L.get("alpha", 1.0)
                    op = Elu(alpha=float(alpha) if isinstance(alpha, (int, float)) else 1.0)
                full, r = False, 3
            else:
                op = {"sigmoid": Sigmoid, "tanh": Tanh, "softplus": Softplus}[act]()
                full, r = True, (2 if act == "tanh" else 3)
            span = r + int(full) + x.type.frac_bits
            n = max(0, min(int(math.ceil(math.log2(max(size, 2)))), span))
            op.lut_full, op.lut_range_bits, op.lut_index_bits, op.table_entries = full, r, n, 1 << n
            if op.parts(op.plan(x.type), x.type, y) is None:
                raise Unmodeled(f"layer {name!r}: no exact {act} table for {x.type.cpp()} -> {y.cpp()}")
            self.add(name, op, x.shape, y)
        elif act == "softmax":
            self.add(name, Softmax(), x.shape, y)
        else:
            raise Unmodeled(f"layer {name!r}: activation {act!r} has no qcompile kernel mapping")

    def batchnorm(self, L: dict, name: str) -> None:
        from ..ops.affine import Affine

        x = self.cur
        c = x.shape[-1]
        st = self.ty(L, "scale") if L.get("scale") else self.ty(L, "weight")
        sh = self.ty(L, "bias")
        acc = exact_type(-(1 << (x.type.width + st.width - 2)), (1 << (x.type.width + st.width - 2)) - 1,
                         x.type.frac_bits + st.frac_bits)
        op = Affine(scale=np.full(c, 0.75), shift=np.zeros(c), scale_type=st, shift_type=sh, accum_type=acc)
        self.add(name, op, x.shape, self.ty(L, "result"))


def _nearest_reuse(op, rf: int) -> int:
    """hls4ml snaps a requested reuse factor to a valid one; ours: the nearest cycle count."""
    return min(op.cycle_counts(), key=lambda c: (abs(c - rf), c))


WRAPPER_REASON = ("csynth of the VivadoAccelerator AXI wrapper (float<->fixed conversion at the ports): qcompile's "
                  "top takes fixed-point streams; only the wrapped core's Vivado synthesis is compared")


def _wrapped(row: dict) -> bool:
    """The row's HLS report is of hls4ml's VivadoAccelerator wrapper around the design."""
    return bool(row.get("accelerator_wrapper")) or str(row.get("hls4ml_backend", "")).lower() == "vivadoaccelerator"


def _mismatch(row: dict) -> str | None:
    """Why a row's design is one qcompile does not emit (None when it is one it does)."""
    if _wrapped(row) and not isinstance((row.get("measured") or {}).get("vivado_synth"), dict):
        return "VivadoAccelerator AXI wrapper measured, and no measurement of the wrapped core"
    if row.get("io_type") == "io_parallel":
        for L in row.get("layers", []):
            if str(L.get("op", "")).startswith(("Conv", "Depthwise", "MaxPool", "AveragePool", "Global")):
                return (f"io_parallel {L.get('op')}: hls4ml unrolls every output position; qcompile emits "
                        "streaming line-buffer kernels only")
    return None


def family_of(row: dict) -> str:
    """Error-table family of a design row, from its layers (any file of the schema)."""
    ops = [str(L.get("op", "")) for L in row.get("layers", [])]
    if any("measured" in L for L in row.get("layers", [])):
        return "network"
    compute = [o for o in ops if o in ("Dense", "Conv1D", "Conv2D", "DepthwiseConv1D", "DepthwiseConv2D")]
    if len(compute) >= 3 and any(o.startswith(("Conv", "Depthwise")) for o in compute):
        return "network"
    if any(o.startswith(("Conv", "Depthwise")) for o in ops):
        return "conv"
    if any("Pool" in o for o in ops):
        return "pooling"
    dense = [L for L in row.get("layers", []) if L.get("op") == "Dense"]
    rf = [int(L.get("reuse_factor_effective_derived") or L.get("reuse_factor") or row.get("reuse_factor") or 1)
          for L in dense]
    strategy = {str(L.get("strategy") or row.get("strategy") or "").lower() for L in dense}
    if dense and (max(rf) > 1 or "resource" in strategy):
        return "dense-resource"
    if "activation" in str(row.get("test_function", "")).lower() or any(
            L.get("op") in ("Activation", "Softmax") and int(L.get("n") or 0) > 8 for L in row.get("layers", [])):
        return "activations"
    return "dense-latency"


def build_design(row: dict, seed: int = 0) -> Design:
    """The qcompile design a row describes (raises Unmodeled with the reason)."""
    board = board_for_part(row.get("part"))
    if board is None:
        raise Unmodeled(f"part {row.get('part')!r} has no board in hw_models")
    family = tool_family(row.get("tool"))
    io_type = str(row.get("io_type") or "io_parallel")
    target = target_for(board, row.get("clock_ns"), family, io_type)
    layers = row.get("layers")
    if not layers:
        raise Unmodeled("no layers")
    b = _Builder(row, np.random.default_rng(seed))
    fifos: list[tuple[int, int, int]] = []
    stream = io_type == "io_stream"
    for i, L in enumerate(layers):
        b.layer(L, i)
        if not stream or i == len(layers) - 1:
            continue
        name = str(L.get("name") or f"{L.get('op')}_{i}")
        if name not in b.layer_nodes:
            continue
        fifo = (L.get("measured") or {}).get("output_fifo")
        t = b.cur
        if fifo and fifo.get("depth"):   # the design's configured depth (hls4ml: one stream per channel)
            fifos.append((int(fifo.get("streams") or t.shape[-1]), int(fifo.get("bits") or t.type.width),
                          int(fifo["depth"])))
        else:                            # hls4ml's default depth: the whole tensor, per channel
            fifos.append((t.shape[-1], t.type.width, max(t.size // t.shape[-1], 1)))
    b.g.outputs = [b.cur.name]
    if len(b.g) == 0:
        raise Unmodeled("no layer with hardware")
    return Design(b.g, target, b.layer_nodes, fifos, family_of(row), board, family, io_type)


# ---- comparisons -------------------------------------------------------------------------

@dataclass
class Comparison:
    id: str
    family: str
    row_id: str
    layer: str | None
    stage: str                       # resources measured at: 'hls' or 'synth'
    measured: dict                   # metric -> value or None
    predicted: dict                  # metric -> value
    low_confidence: bool = False
    tool: str = ""
    peer: dict | None = None         # a peer tool's own estimate of the same design (FINN's), same metrics

    def ape(self, metric: str) -> float | None:
        m, p = self.measured.get(metric), self.predicted.get(metric)
        if m is None or p is None:
            return None
        f = FLOORS[metric]
        m, p = max(float(m), f), max(float(p), f)
        return abs(p - m) / m

    def ratio(self, metric: str) -> float | None:
        m, p = self.measured.get(metric), self.predicted.get(metric)
        if m is None or p is None:
            return None
        f = FLOORS[metric]
        return max(float(p), f) / max(float(m), f)


def _num(v):
    return None if v is None else float(v)


def _measured(m: dict, layer: bool = False) -> dict:
    lat = m.get("latency_min", m.get("latency_best")) if layer else m.get("latency_best", m.get("latency_min"))
    out = {"latency": _num(lat), "ii": _num(m.get("interval_min"))}
    for k in ("dsp", "lut", "ff", "bram_18k"):
        v = m.get(k)
        if v is None and k == "bram_18k" and m.get("bram_tiles_36k") is not None:
            v = 2 * float(m["bram_tiles_36k"])
        out[k] = _num(v)
    return out


def stage_scaled(predicted: dict, target: Target, stage: str) -> dict:
    """Our (HLS-stage) resource estimate converted to the stage a row measured."""
    from ..cost.hardware import post_synthesis

    return dict(predicted) if stage == "hls" else post_synthesis(target, predicted)


def fifo_totals(design: Design, target: Target | None = None) -> dict:
    """Resources of the inter-layer FIFOs the design names (the compiler's FIFO formula)."""
    from ..cost.hardware import fifo as fifo_cost

    target = target or design.target
    tot = {"bram_18k": 0.0, "lut": 0.0, "ff": 0.0}
    for streams, bits, depth in design.fifos:
        b, l, f = fifo_cost(target, bits, depth)
        tot["bram_18k"] += streams * b
        tot["lut"] += streams * l
        tot["ff"] += streams * f
    return tot


@dataclass
class Prepared:
    """A row with its design built once (or the reason it cannot be)."""

    where: str
    row: dict
    design: Design | None = None
    reason: str | None = None
    mismatched: str | None = None

    @property
    def id(self) -> str:
        return str(self.row.get("id", self.where))


def prepare(rows, include_mismatched: bool = False, seed: int = 0) -> list[Prepared]:
    from . import finn

    out = []
    for where, row in finn.resolve(list(rows)):
        if "__error__" in row:
            out.append(Prepared(where, row, reason=row["__error__"]))
            continue
        is_finn = finn.is_finn_row(row)
        why = finn.mismatch(row) if is_finn else _mismatch(row)
        if why and not include_mismatched:
            out.append(Prepared(where, row, reason=why, mismatched=why))
            continue
        try:
            build = finn.build_design if is_finn else build_design
            out.append(Prepared(where, row, build(row, seed), mismatched=why))
        except Unmodeled as e:
            out.append(Prepared(where, row, reason=str(e)))
        except Exception as e:  # noqa: BLE001 - a malformed row must not stop the others
            out.append(Prepared(where, row, reason=f"could not be built ({type(e).__name__}: {e})"))
    return out


def compare_prepared(p: Prepared, table: dict | None = None) -> list[Comparison]:
    """Comparisons of one built row; `table` replaces the fabric's coefficient table."""
    from ..cost.estimator import Estimator

    design = p.design
    row = p.row
    if callable(table):  # a table per fabric
        table = table(design.target.fabric)
    target = design.target if table is None else replace(
        design.target, coeff=row_coeff(table, design.tool_family, design.io_type))
    net = Estimator(design.graph, target).estimate()  # the compiler's estimate (width converters included)
    family = design.family if not p.mismatched else "mismatched-" + design.family
    rid = p.id
    low = str(row.get("spec_confidence", "")).lower() == "low"
    pred = {"latency": float(net.latency), "ii": float(net.ii)}
    pred.update({k: float(net.totals[k]) for k in ("dsp", "lut", "ff", "bram_18k")})
    for k, v in fifo_totals(design, target).items():
        pred[k] += v
    kw = dict(low_confidence=low, tool=design.tool_family)
    from . import finn

    if finn.is_finn_row(row):  # Vivado results (synthesis or place and route): one comparison
        peer = finn.finn_estimate(row)
        low = str(row.get("confidence", "")).lower() == "low"
        return [Comparison(rid, family, rid, None, "synth", finn.measured(row), stage_scaled(pred, target, "synth"),
                           low_confidence=low, tool=design.tool_family, peer=peer)]
    m = row.get("measured") or {}
    out = []
    stage = resource_stage(m)
    meas = _measured(m)
    if any(v is not None for v in meas.values()) and not _wrapped(row):
        out.append(Comparison(rid, family, rid, None, stage, meas, stage_scaled(pred, target, stage), **kw))
    vs = m.get("vivado_synth")
    if isinstance(vs, dict):
        mv = {k: (None if k in ("latency", "ii") else v) for k, v in _measured(vs).items()}
        out.append(Comparison(rid + "@synth", family, rid, None, "synth", mv, stage_scaled(pred, target, "synth"), **kw))
    costs = {name: c for name, _, c in net.layers}
    for i, L in enumerate(row.get("layers", [])):
        lm = L.get("measured")
        name = str(L.get("name") or f"{L.get('op')}_{i}")
        if not isinstance(lm, dict) or name not in design.layer_nodes:
            continue
        cs = [costs[n] for n in design.layer_nodes[name]]
        lp = {"latency": float(sum(c.latency for c in cs)), "ii": float(max(c.ii for c in cs))}
        lp.update({k: float(sum(getattr(c, k) for c in cs)) for k in ("dsp", "lut", "ff", "bram_18k")})
        lstage = resource_stage(lm) if (lm.get("stage") or lm.get("resource_stage")) else stage
        out.append(Comparison(f"{rid}/{name}", family, rid, name, lstage, _measured(lm, layer=True),
                              stage_scaled(lp, target, lstage), **kw))
    return out


def compare_row(row: dict, include_mismatched: bool = False, seed: int = 0) -> list[Comparison]:
    """Comparisons of one row (raises Unmodeled with the reason)."""
    (p,) = prepare([("row", row)], include_mismatched, seed)
    if p.design is None:
        raise Unmodeled(p.reason)
    return compare_prepared(p)


def load_rows(paths) -> list[tuple[str, dict]]:
    """(where, row) for every JSON line of the files; unreadable lines come back as
    (where, {'__error__': reason})."""
    rows = []
    for path in paths:
        p = Path(path)
        for n, line in enumerate(p.read_text().splitlines(), 1):
            if not line.strip():
                continue
            where = f"{p.name}:{n}"
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not a JSON object")
            except ValueError as e:
                row = {"__error__": f"not a JSON object ({e})"}
            rows.append((where, row))
    return rows


@dataclass
class Evaluation:
    comparisons: list[Comparison]
    unmodeled: list[dict]            # {"id", "where", "reason"}
    rows: int


def evaluate_prepared(prepared: list[Prepared], table: dict | None = None) -> Evaluation:
    comps, unmodeled = [], []
    for p in prepared:
        if p.design is None:
            unmodeled.append({"id": p.id, "where": p.where, "reason": p.reason})
            continue
        try:
            got = compare_prepared(p, table)
        except Exception as e:  # noqa: BLE001 - e.g. a layer our kernels cannot cost at this shape
            unmodeled.append({"id": p.id, "where": p.where,
                              "reason": f"could not be estimated ({type(e).__name__}: {e})"})
            continue
        if _wrapped(p.row):  # the row's own (wrapper) measurement is left out: say so
            unmodeled.append({"id": p.id + " (top-level csynth)", "where": p.where, "reason": WRAPPER_REASON,
                              "partial": True})
        comps.extend(got)
    return Evaluation(comps, unmodeled, len(prepared))


def evaluate(paths, include_mismatched: bool = False, rows=None) -> Evaluation:
    """Estimate every row of the files; rows we cannot model are listed with the reason."""
    rows = load_rows(paths) if rows is None else rows
    return evaluate_prepared(prepare(rows, include_mismatched))


def error_table(comps: list[Comparison], metrics=METRICS) -> dict:
    """{metric: {median_ape, p90_ape, within_2x, n}} (APE in percent; None when n = 0)."""
    table = {}
    for metric in metrics:
        apes, ratios = [], []
        for c in comps:
            a = c.ape(metric)
            if a is not None:
                apes.append(a)
                ratios.append(c.ratio(metric))
        if apes:
            r = np.array(ratios)
            table[metric] = {"median_ape": float(np.median(apes) * 100), "p90_ape": float(np.percentile(apes, 90) * 100),
                             "within_2x": float(np.mean((r <= 2) & (r >= 0.5))), "n": len(apes)}
        else:
            table[metric] = {"median_ape": None, "p90_ape": None, "within_2x": None, "n": 0}
    return table


__all__ = ["METRICS", "FLOORS", "FAMILIES", "Unmodeled", "Design", "Comparison", "Evaluation", "Prepared",
           "board_for_part", "device_of", "tool_family", "resource_stage", "parse_type", "build_design",
           "prepare", "compare_prepared", "compare_row", "evaluate", "evaluate_prepared", "error_table",
           "load_rows", "family_of", "target_for", "row_coeff", "RESOURCES"]
