"""The design report: JSON document (schema: docs/report.schema.json, kept stable) and printed table."""
from __future__ import annotations

import textwrap

from . import __version__
from .cost import NetworkCost


def build_report(design, cost: NetworkCost) -> dict:
    g = design.graph
    doc = {"qcompile_version": __version__, "model": design.model_path, "design": g.name,
           "target": design.target.summary(), **cost.as_dict(),
           "inputs": {n: g.tensors[n].type.cpp() for n in g.inputs},
           "outputs": {n: g.tensors[n].type.cpp() for n in g.outputs},
           "options": design.options}
    by_name = {n.name: n for n in g.nodes()}
    for layer in doc["layers"]:
        node = by_name[layer["name"]]
        layer["source"] = node.source
        layer["output_type"] = g.tensors[node.outputs[0]].type.cpp()
        for key in ("weight_type", "accum_type"):
            v = getattr(node.op, key, None)
            if v is not None:
                layer[key] = v.cpp()
        if getattr(node.op, "max_error", None) is not None:
            layer["max_abs_error"] = node.op.max_error
        if getattr(node.op, "table_entries", None) is not None:
            layer["table_entries"] = node.op.table_entries
    return doc


NAME_WIDTH, OP_WIDTH, KERNEL_WIDTH = 40, 26, 22   # longer text wraps onto the next lines, never cut


def format_table(doc: dict, header: bool = True) -> str:
    """The per-layer cost table with totals (a report document, or NetworkCost.as_dict() with
    header=False): full layer, op and kernel names, wrapped within their columns."""
    layers = doc["layers"]
    widths = [max([len(h)] + [min(len(L[k]), cap) for L in layers])
              for h, k, cap in (("layer", "name", NAME_WIDTH), ("op", "op", OP_WIDTH), ("kernel", "style", KERNEL_WIDTH))]
    nums = f"{'lat(cyc)':>8} {'II':>6} {'DSP':>6} {'LUT':>8} {'FF':>8} {'BRAM18':>7} {'URAM':>5}"

    def text(cells: tuple[str, str, str]) -> str:
        return " ".join(f"{c:<{w}}" for c, w in zip(cells, widths))
    head = f"{text(('layer', 'op', 'kernel'))} {nums}"
    lines = [f"{doc['design']} on {doc['target']['name']} ({doc['target']['part']}, {doc['clock_mhz']:g} MHz)"] \
        if header else []
    lines += [head, "-" * len(head)]
    for L in layers:
        wrapped = [textwrap.wrap(L[k], w, break_on_hyphens=False) or [""]
                   for k, w in zip(("name", "op", "style"), widths)]
        lines.append(f"{text(tuple(col[0] for col in wrapped))} {L['latency']:>8} {L['ii']:>6} {L['dsp']:>6.0f} "
                     f"{L['lut']:>8.0f} {L['ff']:>8.0f} {L['bram_18k']:>7.1f} {L['uram']:>5.0f}")
        for k in range(1, max(map(len, wrapped))):
            lines.append(text(tuple(col[k] if k < len(col) else "" for col in wrapped)).rstrip())
    r, u = doc["resources"], doc["utilization_pct"]
    lines.append("-" * len(head))
    lines.append(f"{text(('total', '', ''))} {doc['latency_cycles']:>8} {doc['ii_cycles']:>6} {r['dsp']:>6.0f} "
                 f"{r['lut']:>8.0f} {r['ff']:>8.0f} {r['bram_18k']:>7.1f} {r['uram']:>5.0f}")

    def pct(k, w):
        return f"{u[k]:>{w - 1}.1f}%" if u[k] is not None else f"{'none':>{w}}"
    lines.append(f"{text(('% of device', '', ''))} {'':>8} {'':>6} {pct('dsp', 6)} {pct('lut', 8)} "
                 f"{pct('ff', 8)} {pct('bram_18k', 7)} {pct('uram', 5)}")
    lines.append(f"latency {doc['latency_cycles']} cycles = {doc['latency_us']:.3f} us; II {doc['ii_cycles']} cycles; "
                 f"throughput {doc['throughput_per_s']:,.0f} inferences/s; bottleneck {doc['bottleneck']}; "
                 f"{'fits' if doc['fits'] else 'DOES NOT FIT'} the device")
    for L in doc["layers"]:
        d = L.get("detail", {})
        if d.get("multipliers_saved"):
            lines.append(f"{L['name']}: sparsity {100 * d['sparsity']:.0f}%: {d['multipliers_saved']:,} of "
                         f"{d['products']:,} products dropped (constant zero weights)")
        elif d.get("cycles_saved"):
            lines.append(f"{L['name']}: sparsity {100 * d['sparsity']:.0f}%: all-zero {d['pe']}x{d['simd']} weight "
                         f"blocks skipped, {d['cycles_saved']:,} of {d['reuse_factor']:,} cycles per item and "
                         f"{d['weight_words_saved']:,} weight words saved")
    for name, (kept, of) in (doc.get("options", {}).get("pruned") or {}).items():
        lines.append(f"{name}: pruned to {kept} of {of} output channels (structured, by weight magnitude)")
    for name, k in (doc.get("options", {}).get("ocs") or {}).items():
        lines.append(f"{name}: outlier channel splitting, {k} input channel{'s' if k > 1 else ''} split in two")
    auto = doc.get("options", {}).get("auto_precision")
    if auto:
        cfg = auto["config"]
        per_layer = "; ".join(f"{n} " + ", ".join(f"{k.split('_')[0]} {v}" for k, v in kn.items())
                              for n, kn in cfg["layers"].items())
        lines.append(f"auto precision {auto['criterion']}: measured {auto['measured']:.4g} on the calibration data; "
                     f"uniform {cfg['width']} bits" + (f", then {per_layer}" if per_layer else "") +
                     f" ({auto['compiles']} compiles; LUT+DSP share {auto['cost_share']:.3f} vs "
                     f"{auto['start_cost_share']:.3f} at the start width)")
    for L in doc["layers"]:
        if "max_abs_error" in L:
            lines.append(f"{L['name']}: {L['op']}, max abs error {L['max_abs_error']:.2e} vs float")
    return "\n".join(lines)
