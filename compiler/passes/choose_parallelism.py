"""Set each MAC layer's microarchitecture: its reuse factor from the options (global
default, per-layer overrides) and its kernel (multiplier-free for binary/ternary weights)."""
from __future__ import annotations

from ..cost.folding import divisors_within
from ..errors import CompileError, at_node
from ..ir import Graph
from ..ops.conv import Conv
from ..ops.dense import Dense
from ..options import CompileOptions


def choose_parallelism(graph: Graph, options: CompileOptions) -> Graph:
    """Pre: typed graph. Post: every Dense/Conv has a reuse factor dividing n_in * n_out (its
    per-layer value, which must divide, or the largest divisor not above the global one) and the
    cheapest exact kernel for its weights and inputs; with a folding request (--fps,
    --latency-us, --fit) the layers not fixed by the table get the reuse factors that
    meet it (cost.folding), or the request fails naming the wall. Unknown layer names in
    the per-layer table are an error, so a typo is never silently ignored."""
    names = {n.name for n in graph.nodes()}
    unknown = sorted(set(options.layer_reuse) - names)
    if unknown:
        raise CompileError(f"reuse factor given for unknown layer(s) {', '.join(unknown)} "
                           f"(layers: {', '.join(sorted(names))})")
    for node in graph.nodes():
        if not isinstance(node.op, (Dense, Conv)):
            if node.name in options.layer_reuse:
                raise at_node(node.name, node.kind, "has no reuse factor (only Dense and Conv layers do)", CompileError)
            continue
        products = node.op.n_in * node.op.n_out
        if node.name in options.layer_reuse:
            rf = int(options.layer_reuse[node.name])
        else:  # the global default: the layer's largest valid factor not above it
            rf = max(d for d in divisors_within(products, products) if d <= max(int(options.reuse_factor), 1))
        if rf < 1 or products % rf:
            # the MAC array walks the products in rf equal steps (cost.kernels.mac_fold)
            valid = divisors_within(products, products)
            near = sorted(valid, key=lambda d: (abs(d - rf), d))[:2]
            raise at_node(node.name, node.kind, f"reuse factor {rf} does not divide its {node.op.n_in}x"
                          f"{node.op.n_out} = {products} products (nearest valid: {', '.join(map(str, sorted(near)))})",
                          CompileError)
        node.op.reuse_factor = rf
        src = node.inputs[0]
        prod = graph.producer(src)
        quantizer = prod.op if prod is not None else graph.input_quantizers.get(src)
        bipolar = getattr(quantizer, "bipolar", False)
        node.op.kernel = node.op.choose_kernel(input_bipolar=bipolar)
    if options.fold is not None and options.fold.active:
        from ..cost.folding import fold

        chosen = fold(graph, options.target, options.fold, fixed=dict(options.layer_reuse))
        for node in graph.nodes():
            if node.name in chosen:
                node.op.reuse_factor = chosen[node.name]
    return graph
