"""qcompile: a hardware-aware FPGA deployment compiler for quantized and pruned ONNX models.

Public API:
    design = compile_model("model.onnx", target="zcu104", calib=x)
    y = simulate(design, x)            # bit-accurate, vectorized over the batch
    cost = estimate(design)            # latency/II/resources of the emitted design
    write_project(design, "out/")      # HLS C++ project, report, saved design
    design = load_design("out/")
"""
from __future__ import annotations

__version__ = "0.1.0"

import os
from pathlib import Path

import numpy as np

from .errors import CompileError

DEFAULT_CALIB_METHOD = "mse"   # measured best over the float dev models (README, "Calibration and precision")

__all__ = ["load_onnx", "compile_model", "recompile", "prune", "simulate", "estimate", "estimate_batch", "write_project", "load_design", "CompileError",
           "__version__"]


def load_onnx(path):
    """ONNX file -> untyped IR graph."""
    from .frontend.onnx import load_onnx as _load

    return _load(path)


def compile_model(model, target: str = "zcu104", *, calib=None, clock_mhz: float | None = None, width: int = 16,
                  weight_width: int = 16, reuse_factor: int | None = None, layer_reuse: dict | None = None,
                  layers: dict | None = None, input_type=None, fps: float | None = None,
                  latency_us: float | None = None, fit: bool = False, caps: dict | None = None,
                  prune: dict | None = None, calib_method: str = DEFAULT_CALIB_METHOD,
                  calib_percentile: float = 99.99, weight_calib_method: str = "minmax", ocs: float = 0.0,
                  per_channel_weights: bool = False, auto_precision: str | None = None):
    """Parse, run the passes and type the design for a target. Returns a Design.
    Parallelism: without any request the design is the fastest that fits the target within
    the default caps (80% of each resource); fps / latency_us / fit (+ caps {resource: share
    of the device}) fold to that request; reuse_factor N gives every MAC layer its largest
    cycle count per item not above N (1: fully parallel). layers: per-layer settings in
    compiler.estimate's override format, {layer: {"reuse_factor" | "pe" | "simd" | "memory" |
    "weight_bits" | "act_bits": value}} (compiler.settings), so that a search's chosen
    configuration compiles as estimated (layer_reuse {layer: n} is the reuse-only shorthand).
    prune: structured pruning {layer: share of its output channels to remove}, by magnitude,
    with everything that reads them (passes/prune_channels.py; compiler.prune says more).
    calib_method: how calibration data's ranges become clip ranges (compiler/calibrate:
    minmax, percentile (keeping calib_percentile % of |values|), mse, kl, aciq);
    weight_calib_method: the same for float weights. ocs: outlier channel splitting, the
    share of each float Dense/Conv layer's input channels split in two (passes/split_outliers).
    per_channel_weights: a weight format per output channel for every float Dense/Conv, through a
    requantizer after it (free, and always done, where the layer's readers are requantizers
    already; passes/per_channel_weights).
    auto_precision: "argmax:0.99" or "sqnr:40", per-layer widths chosen by compiler.precision
    (needs calib)."""
    from .calibrate.methods import METHODS
    from .calibrate.ranges import Calibration
    from .cost.folding import FoldRequest
    from .cost.target import load_target
    from .design import Design
    from .numerics import FixedType
    from .options import CompileOptions
    from .passes import run_pipeline
    from .passes.prune_channels import check_ratios
    from .settings import LayerSettings, parse_layers

    if not isinstance(model, (str, os.PathLike)) and type(model).__name__ != "ModelProto":
        raise CompileError(f"model must be a path to an ONNX file or an onnx.ModelProto, got {type(model).__name__}")
    if not isinstance(target, (str, os.PathLike)):
        raise CompileError(f"target must be a board name or a board file, got {type(target).__name__}")
    for what, v in (("clock_mhz", clock_mhz), ("fps", fps), ("latency_us", latency_us)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise CompileError(f"{what} must be a number, got {v!r}")
    for what, v in (("width", width), ("weight_width", weight_width)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise CompileError(f"{what} must be an integer, got {v!r}")
    if reuse_factor is not None:
        if isinstance(reuse_factor, bool) or not isinstance(reuse_factor, (int, np.integer)):
            raise CompileError(f"reuse_factor must be an integer, got {reuse_factor!r}")
        if reuse_factor < 1:
            raise CompileError(f"reuse factor must be at least 1, got {reuse_factor}")
    if caps is not None and not isinstance(caps, dict):
        raise CompileError(f"caps must be a dict {{resource: share}}, got {caps!r}")
    if layer_reuse is not None and (not isinstance(layer_reuse, dict) or
                                    not all(type(v) is int for v in layer_reuse.values())):
        raise CompileError(f"layer_reuse must be a dict {{layer: int}}, got {layer_reuse!r}")
    for what, m in (("calib_method", calib_method), ("weight_calib_method", weight_calib_method)):
        if m not in METHODS:
            raise CompileError(f"{what} {m!r}: supported: {', '.join(METHODS)}")
    if isinstance(calib_percentile, bool) or not isinstance(calib_percentile, (int, float)) \
            or not 50 <= calib_percentile <= 100:
        raise CompileError(f"calib_percentile must be a percentage in [50, 100], got {calib_percentile!r}")
    if isinstance(ocs, bool) or not isinstance(ocs, (int, float)) or not 0 <= ocs < 1:
        raise CompileError(f"ocs must be a share of input channels in [0, 1), got {ocs!r}")
    # the arguments as given: the design keeps them (recompile), auto precision compiles with them
    args = dict(model=model, target=target, calib=calib, clock_mhz=clock_mhz, width=width, weight_width=weight_width,
                reuse_factor=reuse_factor, layer_reuse=layer_reuse, layers=layers, input_type=input_type, fps=fps,
                latency_us=latency_us, fit=fit, caps=caps, prune=prune, calib_method=calib_method,
                calib_percentile=calib_percentile, weight_calib_method=weight_calib_method, ocs=ocs,
                per_channel_weights=per_channel_weights)
    if auto_precision is not None:
        from .precision import search

        return search(model, target, auto_precision, calib,
                      {k: v for k, v in args.items() if k not in ("model", "target", "calib")})
    tgt = load_target(str(target), clock_mhz)
    if isinstance(input_type, str):
        try:
            input_type = FixedType.parse(input_type)
        except ValueError as e:
            raise CompileError(f"input type {input_type!r}: {e} (e.g. 'ap_fixed<16,6,AP_RND_CONV,AP_SAT>')") from None
    if input_type is not None and not isinstance(input_type, FixedType):
        raise CompileError(f"input type must be an ap_fixed string or a FixedType, got {input_type!r}")
    for what, w in (("width", width), ("weight width", weight_width)):
        if not 2 <= int(w) <= 32:
            raise CompileError(f"{what} {w} is outside the supported 2..32 bits")
    for what, v in (("fps", fps), ("latency_us", latency_us)):
        if v is not None and not v > 0:
            raise CompileError(f"{what} must be positive, got {v}")
    for k, v in (caps or {}).items():
        if k not in ("lut", "ff", "dsp", "bram_18k", "uram") or not 0 < v <= 1:
            raise CompileError(f"resource cap {k}={v}: expected lut/ff/dsp/bram_18k/uram with a share in (0, 1]")
    settings = parse_layers(layers)
    for name, rf in (layer_reuse or {}).items():
        own = settings.get(name, LayerSettings())
        if own.reuse_factor is not None and own.reuse_factor != rf:
            raise CompileError(f"layer {name!r}: two reuse factors given ({own.reuse_factor} and {rf})")
        settings[name] = LayerSettings.parse(name, {**own.items(), "reuse_factor": rf})
    request = FoldRequest(fps=fps, latency_us=latency_us, fit=fit, caps=caps)
    _check_requests(request, reuse_factor)
    opts = CompileOptions(width=int(width), weight_width=int(weight_width),
                          reuse_factor=None if reuse_factor is None else int(reuse_factor), layers=settings,
                          input_type=input_type, calib=None, target=tgt,
                          fold=request, prune=check_ratios(prune), ocs=float(ocs),
                          per_channel_weights=bool(per_channel_weights),
                          calibration=Calibration(calib_method, float(calib_percentile)),
                          weight_calibration=Calibration(weight_calib_method, float(calib_percentile)))
    graph = load_onnx(model)
    if calib is not None:  # the model's layout -> the design's
        opts.calib = graph.inputs_to_ir(calib, "calibration data")
    graph = run_pipeline(graph, opts)
    fold_text = opts.fold.describe() if opts.fold.active else None
    if opts.folded_by_default:
        fold_text = f"default: the fastest design within {FoldRequest(fit=True).describe()[len('fit within '):]}"
    summary = {"width": opts.width, "weight_width": opts.weight_width, "reuse_factor": opts.reuse_factor,
               "fold": fold_text, "layers": {k: v.items() for k, v in settings.items()},
               "calibrated": calib is not None, "input_type": None if input_type is None else input_type.cpp(),
               "pruned": {k: list(v) for k, v in opts.pruned.items()},
               "calib_method": calib_method if calib is not None else None, "weight_calib_method": weight_calib_method,
               "calib_percentile": calib_percentile, "ocs": opts.split, "per_channel": opts.per_channel}
    return Design(graph=graph, target=tgt, model_path=str(model) if isinstance(model, (str, Path)) else "",
                  options=summary, compile_args=args)


def recompile(design, **compile_args):
    """The design's model compiled again with the arguments it was compiled with (calibration
    data included), those given here replacing them. A design loaded from disk keeps only its
    model path and target: pass the rest."""
    d = design
    board = d.target.path if d.target.path and Path(d.target.path).is_file() else d.target.name
    args = dict(d.compile_args) or {"model": d.model_path, "target": board, "clock_mhz": d.target.clock_mhz}
    if not args.get("model"):
        raise CompileError("this design has no model to compile again; compile the model instead")
    args.update(compile_args)
    return compile_model(args.pop("model"), **args)


def prune(design_or_model, ratios: dict, **compile_args):
    """Structured pruning, as a compile: remove from each layer in `ratios` ({layer: share})
    that share of its output channels, the smallest by L1 norm of real weights, together with
    everything computed from them up to the next Dense/Conv, whose weight rows that read them
    go too (passes/prune_channels.py). The result is an ordinary Design: it estimates,
    simulates and C-simulates like any other, and report.json says what was pruned.

    Given a Design, its model is compiled again with the arguments it was compiled with
    (calibration data included), any in compile_args replacing them, and the ratios added to
    the pruning it had; a design loaded from disk keeps only its target, so pass the rest.
    Given a model (path or ModelProto), compile_args are compile_model's. The estimate's
    `pruning` knob stays the what-if for unstructured sparsity."""
    from .design import Design

    if isinstance(design_or_model, Design):
        own = design_or_model.compile_args.get("prune") or {}
        return recompile(design_or_model, **{**compile_args, "prune": {**own, **(ratios or {})}})
    return compile_model(design_or_model, prune=ratios, **compile_args)


def _check_requests(request, reuse_factor) -> None:
    """Requests that cannot all be honoured are refused, never one silently dropped."""
    if request.fit and (request.fps is not None or request.latency_us is not None):
        given = " and ".join(w for w, v in (("fps", request.fps), ("latency_us", request.latency_us)) if v is not None)
        raise CompileError(f"fit (the fastest design within the caps) and {given} (the cheapest design that meets "
                           "it) conflict: give one (caps bound either)")
    if request.active and reuse_factor is not None:
        raise CompileError("a folding request (fps, latency_us, fit) and reuse_factor conflict: give one")
    if request.caps and not request.active:
        raise CompileError("caps bound a folding request (fit, fps or latency_us); none was given")


def simulate(design, x) -> np.ndarray | list[np.ndarray]:
    """Bit-accurate outputs of the design for real inputs x (batch first), in the model's
    own layout (e.g. NCHW), as are the outputs; the design works channels-last inside. A
    model with several inputs takes a list (graph-input order) or a dict by input name; one
    with several outputs returns a list."""
    from .passes.assign_formats import check_data

    g = design.graph
    xs = check_data(g, g.inputs_to_ir(x, "input data"), "input data")
    outs = [g.output_to_onnx(y, k) for k, y in enumerate(design.simulator().run(xs))]
    outs = [y.astype(np.int64) if g.producer(name) is not None and g.producer(name).op.integer_output else y
            for y, name in zip(outs, g.outputs)]
    if g.one_sample(x):  # a whole-tensor model given one sample in its own shapes
        outs = [y[0] for y in outs]
    return outs[0] if len(outs) == 1 else outs


def estimate(design, overrides: dict | None = None):
    """The cost model's NetworkCost for the design, optionally under per-layer what-if
    overrides {layer: {"reuse_factor"|"pe"|"simd"|"memory"|"weight_bits"|"act_bits"|"pruning": value}}, without
    re-parsing or re-emitting (see compiler.cost.estimator). Fast: prepared once per design."""
    _check_design(design)
    return design.estimator().estimate(overrides)


def estimate_batch(design, configs):
    """compiler.estimate for many configurations at once (a search's population): a BatchCost
    of numpy arrays (latency, ii, totals per resource; latency_us, throughput, fits), one
    entry per configuration, equal to estimate(design, config) for each."""
    _check_design(design)
    if isinstance(configs, (dict, str, bytes)) or not hasattr(configs, "__iter__"):
        raise CompileError(f"configs must be a list of override dicts, got {type(configs).__name__}")
    return design.estimator().estimate_batch(configs)


def _check_design(design) -> None:
    from .design import Design

    if not isinstance(design, Design):
        raise CompileError(f"expected a compiled design (compiler.compile_model or load_design), got "
                           f"{type(design).__name__}")


def write_project(design, out, force: bool = False, tb_inputs=None, package: bool = False) -> Path:
    """Emit the HLS project, report.json/report.html and the saved design into `out`
    (atomically); package=True adds package/, what puts the design on its board."""
    from .backend.emit import write_project as _write
    from .report import build_report

    report = build_report(design, estimate(design))
    return _write(design, Path(out), report, force=force, tb_inputs=tb_inputs, package=package)


def load_design(folder):
    from .design import Design

    return Design.load(Path(folder))
