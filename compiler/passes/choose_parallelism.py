"""Set every layer's microarchitecture: MAC arrays' PE x SIMD shapes and kernels, and the
kernel of each quantizer (multiply-shift or thresholds, whichever the cost model finds
cheaper at its stream width).

Shapes come from, in order: the per-layer settings (compile_model(layers=...), --config),
a folding request (--fps, --latency-us, --fit), the global --reuse-factor, and otherwise
the default: the fastest design that fits the target within the default caps (as --fit).
"""
from __future__ import annotations

from ..cost.folding import FoldRequest, fold
from ..cost.model import RESOURCES, device_share
from ..errors import CompileError, at_node
from ..ir import Graph
from ..options import CompileOptions
from ..ops._mac import MacOp


def choose_parallelism(graph: Graph, options: CompileOptions) -> Graph:
    """Pre: typed graph. Post: every Dense/Conv has a valid PE x SIMD shape and the cheapest
    exact kernel for its weights and inputs; every Quant its kernel. With a folding request
    (or none at all) the layers without a setting of their own get the shapes that meet it
    (cost.folding), or the request fails naming the wall. Unknown layer names in the
    per-layer table are an error, so a typo is never silently ignored."""
    nodes = {n.name: n for n in graph.nodes()}
    settings = options.layers
    unknown = sorted(set(settings) - set(nodes))
    if unknown:
        raise CompileError(f"settings given for unknown layer(s) {', '.join(unknown)} "
                           f"(layers: {', '.join(sorted(nodes))})")
    fixed = {}
    for node in graph.nodes():
        op = node.op
        s = settings.get(node.name)
        if not isinstance(op, MacOp):
            if s is not None and (s.shape_given or s.memory is not None):
                raise at_node(node.name, node.kind, "has no reuse factor, PE, SIMD or memory (only Dense and Conv "
                              "layers do)", CompileError)
            continue
        src = node.inputs[0]
        prod = graph.producer(src)
        quantizer = prod.op if prod is not None else graph.input_quantizers.get(src)
        op.kernel = op.choose_kernel(input_bipolar=getattr(quantizer, "bipolar", False))
        if s is not None and s.memory is not None:
            op.memory = s.memory
        if s is not None and s.shape_given:
            op.pe, op.simd = _shape(node, s)
            fixed[node.name] = {"pe": op.pe, "simd": op.simd}
        elif options.reuse_factor is not None:  # the layer's largest cycle count not above it
            op.pe, op.simd = op.shape_for_reuse(max(c for c in op.cycle_counts() if c <= options.reuse_factor))
    request = options.fold if options.fold is not None and options.fold.active else None
    if request is None and options.reuse_factor is None and any(
            isinstance(n.op, MacOp) and n.name not in fixed for n in graph.nodes()):
        request = FoldRequest(fit=True)   # the default: the fastest design within the default caps
        options.folded_by_default = True
    if request is not None:
        chosen = fold(graph, options.target, request, fixed=fixed)
        for name, ov in chosen.items():
            nodes[name].op.pe, nodes[name].op.simd = ov["pe"], ov["simd"]
    _choose_quant_kernels(graph, options)
    return graph


def _shape(node, s) -> tuple[int, int]:
    """(PE, SIMD) from a layer's own settings, checked against the shapes it can take."""
    op = node.op
    rows, cols = op.array_dims
    if s.reuse_factor is not None:
        try:
            return op.shape_for_reuse(s.reuse_factor)
        except ValueError:
            near = sorted(op.cycle_counts(), key=lambda d: (abs(d - s.reuse_factor), d))[:2]
            raise at_node(node.name, node.kind, f"reuse factor {s.reuse_factor} is not a cycle count of its "
                          f"{rows}x{cols} array (nearest valid: {', '.join(map(str, sorted(near)))})",
                          CompileError) from None
    pe = s.pe if s.pe is not None else op.shape[0]
    simd = s.simd if s.simd is not None else op.shape[1]
    if not op.valid_shape(pe, simd):
        raise at_node(node.name, node.kind, f"pe={pe}, simd={simd} is not a shape of its {rows}x{cols} array "
                      f"(PE divides {cols}; SIMD: {op.simd_rule()})", CompileError)
    return pe, simd


def _choose_quant_kernels(graph: Graph, options: CompileOptions) -> None:
    """Each quantizer with a choice takes the kernel whose cost scores lower at its stream
    width (the stream widths of the shapes just chosen)."""
    from ..ops.base import CostContext
    from ..ops.quant import Quant
    from .assign_streams import stream_widths

    folds = stream_widths(graph)
    caps = (options.fold._caps() if options.fold is not None and (options.fold.fit or options.fold.caps)
            else {k: 1.0 for k in RESOURCES})
    for node in graph.nodes():
        op = node.op
        if not isinstance(op, Quant):
            continue
        kinds = op.kernel_choices()
        if len(kinds) == 1:
            op.kernel = kinds[0]
            continue
        ins, outs = graph.in_tensors(node), graph.out_tensors(node)
        native, out = op.stream_folds([t.shape for t in ins], [t.shape for t in outs], [folds.get(t.name) for t in ins])
        ctx = CostContext(node=node, inputs=ins, outputs=outs, target=options.target, in_folds=native, out_folds=out)
        op.kernel = min(kinds, key=lambda k: device_share(op.kernel_cost(ctx, k).resources(),
                                                          options.target.resources, caps))
