"""Per-layer numerics profile: where the fixed-point types lose accuracy, layer by layer.

For every tensor of a design (graph inputs first, then each layer's outputs in topological
order) on real data, against the *float* model (the same IR before assign_formats quantized
its weights, run in float64 by the ops' reference semantics):
- the float values' range and a histogram of log2|x| (the field's usual view, as hls4ml's
  profiling draws it), next to the chosen type's range and step;
- how many float values lie above the type's max or below its min: saturated under the
  AP_SAT* overflow modes, wrapped (overflowed) under AP_WRAP;
- the SQNR of the bit-accurate value against the float one, two ways: "with upstream" (the
  simulator's trace: this layer's error plus everything before it) and "alone" (the layer's
  own bit-accurate step fed the float model's inputs, cast to its input types: its own share;
  so an op that is exact on codes, a Reshape or a max pool, shows its input type's resolution).

profile.json (write_profile) holds, with these keys in every version:
    {"format": 1, "design": str, "samples": int, "tensors": [{
        "tensor": str, "layer": str | null (null: a graph input), "op": str ("input" for one),
        "shape": [int], "in_float_model": bool,
        "type": {"cpp": str, "min": float, "max": float, "step": float, "overflow": str},
        "float": {"min": float, "max": float} | null,
        "histogram": {"log2_edges": [int], "counts": [int], "zeros": int} | null,
        "above_max": int | null, "below_min": int | null,
        "saturated": int | null, "overflowed": int | null,
        "sqnr_db": {"with_upstream": SQNR, "alone": SQNR},
        "plot": str | null}]}
Type min/max/step are real (code units times the tensor's scale; with per-channel scales the
widest range and the finest step). A histogram PNG is drawn for every tensor the float model
has (graph inputs too). An SQNR is a number, the string "inf" when the two agree exactly, or
null where it does not apply ("alone" for graph inputs, whose "with_upstream" is the input
cast) or cannot be computed. The float model is the model run again through the passes before
assign_formats, with the design's pruning and outlier channel splitting; a tensor it does not
have, or has in another shape, has null counts, float range and SQNRs, and its readers no
"alone" SQNR. saturated is 0 under AP_WRAP, overflowed 0 under AP_SAT*.
"""
from __future__ import annotations

import json
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from . import progress
from .errors import CompileError

FORMAT_VERSION = 1


@dataclass
class TensorProfile:
    tensor: str
    layer: str | None                 # the producing node; None for a graph input
    op: str                           # the node's kind, "input" for a graph input
    shape: tuple[int, ...]
    type_cpp: str
    type_min: float                   # real values (times the tensor's scale)
    type_max: float
    step: float
    overflow: str                     # the type's overflow mode
    in_float_model: bool              # False: the fields below that need float values are None
    float_min: float | None
    float_max: float | None
    log2_edges: list[int] | None      # histogram of log2|x| over the nonzero float values
    counts: list[int] | None
    zeros: int | None
    above_max: int | None             # float values above the type's max / below its min
    below_min: int | None
    sqnr_with_upstream_db: float | None
    sqnr_alone_db: float | None

    @property
    def saturating(self) -> bool:
        return self.overflow.startswith("AP_SAT")

    @property
    def out_of_range(self) -> int | None:
        return None if self.above_max is None else self.above_max + self.below_min

    @property
    def saturated(self) -> int | None:
        return None if self.out_of_range is None else self.out_of_range if self.saturating else 0

    @property
    def overflowed(self) -> int | None:
        return None if self.out_of_range is None else 0 if self.saturating else self.out_of_range


@dataclass
class Profile:
    design: str
    samples: int
    tensors: list[TensorProfile]


def profile(design, x) -> Profile:
    """The profile of `design` on real inputs x (the model's layout, as compiler.simulate
    takes them). Runs in the simulator's sample chunks (so memory stays bounded on large
    images), on every core, and adds up each chunk's statistics."""
    from .passes.assign_formats import check_data

    g = design.graph
    xs = check_data(g, g.inputs_to_ir(x, "data"), "data")
    fg = float_graph(design)
    fg_nodes, sim = fg.nodes(), design.simulator()
    tallies: dict[str, _Tally] = {}
    with progress.bar(total=len(xs[0]), desc="profile", unit="sample") as shown:
        for samples, part in _each_chunk(lambda chunk: _chunk_tallies(g, sim, fg, fg_nodes, chunk), xs, sim.chunk):
            tallies = {k: t.merged(tallies[k]) if k in tallies else t for k, t in part.items()}
            shown.update(samples)
    producer = {t: n for n in g.nodes() for t in n.outputs}
    tensors = [_tensor_profile(g.tensors[name], producer.get(name), tallies[name])
               for name in list(g.inputs) + list(producer)]
    return Profile(design=design.name, samples=len(xs[0]), tensors=tensors)


def float_graph(design):
    """The design's model as the float model: the pipeline up to assign_formats (which
    quantizes weights in place), with the design's pruning, outlier channel splitting and
    per-channel weight formats (each exact in float), so its tensors carry the design's names,
    shapes and scales."""
    from . import load_onnx
    from .options import CompileOptions
    from .passes import PIPELINE, assign_formats
    from .passes.prune_channels import check_ratios

    args = design.compile_args
    model = args.get("model") or design.model_path
    if not model:
        raise CompileError("this design has no model to compare with; profile a compiled model instead")
    if not args and (design.options.get("pruned") or design.options.get("ocs") or design.options.get("per_channel")):
        raise CompileError("a pruned or channel-split design loaded from disk keeps no way to rebuild its float "
                           "model; profile the design compile_model returns instead")
    graph = load_onnx(model)
    opts = CompileOptions(prune=check_ratios(args.get("prune")), ocs=float(args.get("ocs") or 0.0),
                          per_channel_weights=bool(args.get("per_channel_weights")))
    for p in PIPELINE[:PIPELINE.index(assign_formats)]:
        graph = p(graph, opts)
    return graph


def _each_chunk(fn, xs: list[np.ndarray], step: int):
    """fn over batch chunks of `step` samples, in order; on every core (numpy releases the
    GIL) with single-threaded BLAS when there are several chunks, as the Simulator runs them."""
    starts = range(0, len(xs[0]), step)
    workers = min(len(starts), os.cpu_count() or 1)

    def chunk(i):
        return fn([v[i:i + step] for v in xs])

    if workers > 1:
        with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
            yield from pool.map(chunk, starts)
    else:
        yield from map(chunk, starts)


@dataclass
class _Tally:
    """One tensor's statistics over some samples; those of two sets of samples add up."""
    float_min: float | None             # None: the float model has no such tensor
    float_max: float | None
    octaves: dict[int, int]             # floor(log2|x|) -> how many float values
    zeros: int
    above_max: int
    below_min: int
    signal: float                       # sum of the float values squared
    noise: float                        # sum of (simulator - float)**2
    alone_noise: float | None           # the same for the layer's own step (None: not computed)

    def merged(self, o: "_Tally") -> "_Tally":
        known = self.float_min is not None
        return _Tally(float_min=min(self.float_min, o.float_min) if known else None,
                      float_max=max(self.float_max, o.float_max) if known else None,
                      octaves={k: self.octaves.get(k, 0) + o.octaves.get(k, 0) for k in self.octaves.keys() | o.octaves},
                      zeros=self.zeros + o.zeros, above_max=self.above_max + o.above_max,
                      below_min=self.below_min + o.below_min, signal=self.signal + o.signal,
                      noise=self.noise + o.noise,
                      alone_noise=None if self.alone_noise is None else self.alone_noise + o.alone_noise)


def _chunk_tallies(g, sim, fg, fg_nodes, xs: list[np.ndarray]) -> tuple[int, dict[str, _Tally]]:
    """Samples xs (IR layout) through the simulator (trace), the float model and, layer by
    layer, each layer's own step on the float model's inputs cast to its input types."""
    from .passes.assign_formats import _fixed_values

    traced = sim.trace(xs)
    values = {name: _fixed_values(fg, name, v) for name, v in zip(fg.inputs, xs)}
    for node in fg_nodes:   # float_run's semantics, without its progress bar once per chunk
        values.update(zip(node.outputs, node.op.reference([values[t] for t in node.inputs])))
    # the float model's real values, for the tensors it has with the design's shape
    real = {k: _real(v, fg.tensors[k].scale) for k, v in values.items()
            if k in g.tensors and fg.tensors[k].shape == g.tensors[k].shape}
    tallies = {k: _tally(g.tensors[k], real.get(k), v) for k, v in traced.items()}
    for ins, outs, step in sim.steps:
        if all(t in real for t in ins + outs):
            codes = [g.tensors[t].type.quantize(real[t] / _scale(g.tensors[t]), np.float64) for t in ins]
            for t, c in zip(outs, step(codes)):
                tallies[t].alone_noise = _sum_squares(_real(g.tensors[t].type.to_float(c), g.tensors[t].scale) - real[t])
    return len(xs[0]), tallies


def _scale(t) -> np.ndarray:
    return np.asarray(t.scale, dtype=np.float64)


def _real(values: np.ndarray, scale) -> np.ndarray:
    s = np.asarray(scale, dtype=np.float64)
    return values if s.ndim == 0 and s == 1 else values * s


def _sum_squares(v: np.ndarray) -> float:
    flat = v.ravel()
    return float(np.einsum("i,i->", flat, flat))   # one pass, no temporary, no BLAS threads


def _tally(t, real: np.ndarray | None, traced: np.ndarray) -> _Tally:
    """`real`: the float model's value of tensor t (None: it has none); `traced`: the simulator's."""
    if real is None:
        return _Tally(None, None, {}, 0, 0, 0, 0.0, 0.0, None)
    zeros = real.size - int(np.count_nonzero(real))
    # floor(log2|x|) = frexp's exponent - 1 (frexp(0)'s is 0: zeros come off that bin); a
    # sort of 16-bit exponents (a radix sort) then finds each one's count, faster than bincount
    octave = np.sort(np.frexp(real)[1].astype(np.int16), axis=None)
    exponents = np.arange(int(octave[0]), int(octave[-1]) + 1)
    counts = np.diff(np.searchsorted(octave, np.append(exponents, exponents[-1] + 1)))
    counts[exponents == 0] -= zeros
    s = _scale(t)
    return _Tally(float_min=float(real.min()), float_max=float(real.max()),
                  octaves={int(e) - 1: int(c) for e, c in zip(exponents, counts) if c},
                  zeros=zeros, above_max=int(np.count_nonzero(real > t.type.max_value * s)),
                  below_min=int(np.count_nonzero(real < t.type.min_value * s)),
                  signal=_sum_squares(real), noise=_sum_squares(traced - real), alone_noise=None)


def _db(signal: float, noise: float | None) -> float | None:
    """verify.sqnr_db from the sums it takes."""
    if noise is None:
        return None
    if noise == 0:
        return math.inf
    return 10 * math.log10(signal / noise) if signal > 0 else -math.inf


def _tensor_profile(t, node, tally: _Tally) -> TensorProfile:
    s = _scale(t)
    ty = t.type
    ends = np.concatenate([np.ravel(ty.min_value * s), np.ravel(ty.max_value * s)])
    known = tally.float_min is not None
    edges = counts = None
    if known:   # every octave from the smallest to the largest, empty ones included
        octaves = range(min(tally.octaves), max(tally.octaves) + 1) if tally.octaves else range(0)
        edges = [*octaves, octaves[-1] + 1] if octaves else []
        counts = [tally.octaves.get(k, 0) for k in octaves]
    return TensorProfile(
        tensor=t.name, layer=None if node is None else node.name, op="input" if node is None else node.kind,
        shape=tuple(t.shape), type_cpp=ty.cpp(), type_min=float(ends.min()), type_max=float(ends.max()),
        step=float(np.min(ty.lsb * np.abs(s))), in_float_model=known,
        # a quantizer clamps its codes itself (its type is exact): what lies outside saturates
        overflow="AP_SAT" if node is not None and node.op.rounds_input else ty.overflow,
        float_min=tally.float_min, float_max=tally.float_max, log2_edges=edges, counts=counts,
        zeros=tally.zeros if known else None, above_max=tally.above_max if known else None,
        below_min=tally.below_min if known else None,
        sqnr_with_upstream_db=_db(tally.signal, tally.noise) if known else None,
        sqnr_alone_db=_db(tally.signal, tally.alone_noise))


# ---- text ------------------------------------------------------------------------------

def _sqnr_text(v: float | None) -> str:
    return "-" if v is None else "exact" if v == math.inf else f"{v:.1f} dB"


def _count_text(n: int | None, of: int, applies: bool) -> str:
    if n is None:
        return "?"
    if not applies:
        return "-"
    return "0" if n == 0 else f"{n} ({100 * n / of:.3g}%)"


def _label(t: TensorProfile, outputs_of: dict[str, int]) -> str:
    if t.layer is None:
        return t.tensor
    return t.layer if outputs_of[t.layer] == 1 else f"{t.layer}:{t.tensor}"


def _rows(p: Profile) -> list[list[str]]:
    outputs_of: dict[str, int] = {}
    for t in p.tensors:
        if t.layer is not None:
            outputs_of[t.layer] = outputs_of.get(t.layer, 0) + 1
    rows = []
    for t in p.tensors:
        values = p.samples * math.prod(t.shape)
        span = "not in float model" if t.float_min is None else f"[{t.float_min:.4g}, {t.float_max:.4g}]"
        rows.append([_label(t, outputs_of), t.op, t.type_cpp, span,
                     _count_text(t.saturated, values, t.saturating), _count_text(t.overflowed, values, not t.saturating),
                     _sqnr_text(t.sqnr_with_upstream_db), _sqnr_text(t.sqnr_alone_db)])
    return rows


HEAD = ["layer", "op", "type", "float range", "saturated", "overflowed", "SQNR with upstream", "SQNR alone"]


def format_profile(p: Profile) -> str:
    """The per-layer table: each tensor's type against its float values, and its SQNR."""
    rows = [HEAD] + _rows(p)
    widths = [max(len(r[k]) for r in rows) for k in range(len(HEAD))]
    lines = [f"per-layer profile of {p.design}: {p.samples} samples, bit-accurate simulator vs the float model"]
    lines += ["  " + "  ".join(v.ljust(w) if k < 4 else v.rjust(w) for k, (v, w) in enumerate(zip(r, widths))).rstrip()
              for r in rows]
    lines.append("  saturated / overflowed: float values outside the type (AP_SAT* clips them, AP_WRAP wraps them); "
                 "SQNR alone: the layer's own step fed the float model's inputs cast to its input types")
    return "\n".join(lines)


# ---- files -----------------------------------------------------------------------------

def _matplotlib():
    """matplotlib's Figure and Agg canvas (no pyplot: no global backend or state)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise CompileError("the profile's plots need matplotlib: pip install qcompile[plots]") from None
    return Figure, FigureCanvasAgg


def require_plots() -> None:
    """Fail before a long profile rather than after it when the plots cannot be drawn."""
    _matplotlib()


def _sqnr_json(v: float | None):
    return None if v is None else "inf" if v == math.inf else "-inf" if v == -math.inf else v


def _plot_name(k: int, t: TensorProfile) -> str:
    return f"hist_{k:02d}_{re.sub(r'[^A-Za-z0-9_.-]', '_', t.tensor)}.png"


def _to_json(t: TensorProfile, plot: str | None) -> dict:
    hist = None if t.counts is None else {"log2_edges": t.log2_edges, "counts": t.counts, "zeros": t.zeros}
    return {"tensor": t.tensor, "layer": t.layer, "op": t.op, "shape": list(t.shape),
            "in_float_model": t.in_float_model,
            "type": {"cpp": t.type_cpp, "min": t.type_min, "max": t.type_max, "step": t.step, "overflow": t.overflow},
            "float": None if t.float_min is None else {"min": t.float_min, "max": t.float_max},
            "histogram": hist, "above_max": t.above_max, "below_min": t.below_min,
            "saturated": t.saturated, "overflowed": t.overflowed,
            "sqnr_db": {"with_upstream": _sqnr_json(t.sqnr_with_upstream_db), "alone": _sqnr_json(t.sqnr_alone_db)},
            "plot": plot}


def write_profile(p: Profile, out_dir) -> Path:
    """DIR/profile.json, DIR/profile.html, a histogram PNG per tensor the float model has and
    DIR/sqnr.png (both SQNRs per layer); files of an earlier profile with these names are replaced."""
    Figure, Canvas = _matplotlib()
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CompileError(f"cannot write to {out}: {e.strerror or e}") from None
    plots = {}
    for k, t in enumerate(p.tensors):
        if t.counts is not None:
            plots[t.tensor] = _plot_name(k, t)
            _histogram_png(Figure, Canvas, t, out / plots[t.tensor])
    _sqnr_png(Figure, Canvas, p, out / "sqnr.png")
    doc = {"format": FORMAT_VERSION, "design": p.design, "samples": p.samples,
           "tensors": [_to_json(t, plots.get(t.tensor)) for t in p.tensors]}
    (out / "profile.json").write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    (out / "profile.html").write_text(render_html(p, plots))
    return out


def _histogram_png(Figure, Canvas, t: TensorProfile, path: Path) -> None:
    fig = Figure(figsize=(6.4, 3.6))
    Canvas(fig)
    ax = fig.add_subplot()
    if t.counts:
        ax.stairs(t.counts, t.log2_edges, fill=True, color="#4c78a8", alpha=0.85, label="float values")
    if t.type_max > 0:
        ax.axvline(math.log2(t.type_max), color="#d6333b", lw=1.6, label=f"type max {t.type_max:.4g}")
    if t.type_min < 0:
        ax.axvline(math.log2(-t.type_min), color="#d6333b", lw=1.2, ls=":", label=f"|type min| {-t.type_min:.4g}")
    ax.axvline(math.log2(t.step), color="#e5a50a", lw=1.6, ls="--", label=f"step {t.step:.3g}")
    ax.set_xlabel("log2 |x|")
    ax.set_ylabel("values")
    where = t.tensor if t.layer is None else f"{t.layer} ({t.op})"
    alone = "" if t.layer is None else f", alone {_sqnr_text(t.sqnr_alone_db)}"
    ax.set_title(f"{where}: {t.type_cpp}\nSQNR with upstream {_sqnr_text(t.sqnr_with_upstream_db)}{alone}",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def _sqnr_png(Figure, Canvas, p: Profile, path: Path) -> None:
    """Both SQNRs per layer output; an exact one (infinite) drawn hatched at the top of the axis."""
    layers = [t for t in p.tensors if t.layer is not None]
    fig = Figure(figsize=(max(6.4, 0.55 * len(layers) + 2), 4.2))
    Canvas(fig)
    ax = fig.add_subplot()
    finite = [v for t in layers for v in (t.sqnr_with_upstream_db, t.sqnr_alone_db) if v is not None and math.isfinite(v)]
    top = max(finite, default=0.0) + 10
    xs = np.arange(len(layers))
    for shift, key, colour, label in ((-0.2, "sqnr_with_upstream_db", "#4c78a8", "with upstream"),
                                      (0.2, "sqnr_alone_db", "#7a9e5c", "alone")):
        values = [getattr(t, key) for t in layers]
        heights = [0.0 if v is None else top if v == math.inf else v for v in values]
        bars = ax.bar(xs + shift, heights, 0.4, color=colour, label=label)
        for b, v in zip(bars, values):
            if v == math.inf:
                b.set_hatch("//")
    ax.set_xticks(xs, [t.layer for t in layers], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("SQNR vs the float model (dB)")
    ax.set_title(f"{p.design}: per-layer SQNR, {p.samples} samples (hatched: exact)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def render_html(p: Profile, plots: dict[str, str]) -> str:
    """The table of format_profile and the plots (relative <img> paths: the page sits next
    to its PNGs), in report.html's style."""
    from .report_html import CSS, _table

    rows = ["<tr>" + "".join(f'<td class="name">{escape(v)}</td>' if k == 0 else f"<td>{escape(v)}</td>"
                             for k, v in enumerate(r)) + "</tr>" for r in _rows(p)]
    figures = "\n".join(f'<figure><img src="{escape(src)}" alt="{escape(name)}" loading="lazy"></figure>'
                        for name, src in plots.items())
    title = escape(f"qcompile profile: {p.design}")
    body = (f"<h1>{title}</h1>\n<p class=\"meta\">{p.samples} samples; bit-accurate simulator against the float "
            "model. Saturated / overflowed: float values outside the type (AP_SAT* clips them, AP_WRAP wraps "
            "them). SQNR with upstream: the simulator's value; alone: the layer's own step fed the float "
            "model's inputs cast to its input types.</p>\n"
            f'<section id="table">\n<h2>Layers</h2>\n{_table(HEAD, rows)}\n</section>\n'
            '<section id="sqnr">\n<h2>SQNR per layer</h2>\n<img src="sqnr.png" alt="SQNR per layer">\n</section>\n'
            f'<section id="histograms">\n<h2>log2 |x| of the float values, with the type\'s max and step</h2>\n'
            f'<div class="plots">\n{figures}\n</div>\n</section>')
    css = CSS + ".plots{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0}img{max-width:100%}\n"
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
            f"<style>{css}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")
