"""report.html: the design report as one self-contained page for people (inline CSS and SVG;
no scripts, fonts, images or links, so it opens anywhere, offline, and can be mailed).

Every string that comes from the model (names, ops, paths) goes through `escape`."""
from __future__ import annotations

from html import escape
from typing import NamedTuple

LABELS = {"lut": "LUT", "ff": "FF", "dsp": "DSP", "bram_18k": "BRAM_18K", "uram": "URAM"}

# dataflow graph geometry (px): generation k sits in column k % COLS of band k // COLS, so a
# deep pipeline wraps into bands instead of growing one ever wider picture
BOX_W, BOX_H, GAP_X, GAP_Y, BAND_GAP, COLS = 172, 50, 56, 26, 40, 6
MARGIN = GAP_X // 2 + 4          # room for edges that enter column 0 from the left gap
NAME_CHARS, OP_CHARS = 25, 28    # what fits in BOX_W at the box's font sizes
GAUGE_ARC = "M10 52 A40 40 0 0 1 90 52"  # a half circle; pathLength=100 makes dash lengths percentages

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1500px;
 padding:0 16px;color:#1d2430;background:#fbfbfd}
h1{margin:0 0 4px;font-size:24px;overflow-wrap:anywhere}h2{font-size:18px;margin:28px 0 10px}
code{font:12px ui-monospace,Menlo,Consolas,monospace;overflow-wrap:anywhere}
.meta{color:#555;margin:2px 0}.summary{font-size:15px;margin:10px 0}
.fit{color:#17803d;font-weight:600}.nofit{color:#c0262d;font-weight:700}
.gauges{display:flex;flex-wrap:wrap;gap:14px}
.gauge{background:#fff;border:1px solid #e2e5ea;border-radius:8px;padding:8px 12px;text-align:center;width:150px}
.gauge .track{fill:none;stroke:#e8ebef;stroke-width:10}.gauge .fill{fill:none;stroke-width:10}
.gauge .pct{font-size:15px;font-weight:600;text-anchor:middle;fill:#1d2430}
.gauge .label{font-weight:600}.gauge .abs{font-size:12px;color:#555}
.ok .fill{stroke:#2e9e5b}.warn .fill{stroke:#e5a50a}.over .fill{stroke:#d6333b}.over .abs{color:#c0262d}
.none .pct{fill:#888}
table{border-collapse:collapse;background:#fff;font-size:12.5px}
th,td{border-bottom:1px solid #eceef2;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f2f4f7;position:sticky;top:0}
td.name{max-width:22em;overflow-wrap:anywhere;font-family:ui-monospace,Menlo,Consolas,monospace}
tr.bottleneck{background:#fff1f1}
.badge{display:inline-block;background:#d6333b;color:#fff;border-radius:3px;padding:0 4px;font-size:11px;
 margin-left:4px;font-family:system-ui,sans-serif}
.bar{width:96px;height:8px;background:#eceef2;border-radius:2px}
.bar i{display:block;height:100%;background:#4c78a8;border-radius:2px}.bar i.hot{background:#d6333b}
.bar i.res{background:#7a9e5c}.bar i.over{background:#d6333b}
.v{font-size:11px;color:#555;white-space:nowrap}
.scroll{overflow:auto;max-height:90vh;border:1px solid #e2e5ea;background:#fff;border-radius:8px}
svg.graph .edge{fill:none;stroke:#9aa3b0;stroke-width:1.2}
svg.graph rect{fill:#eef3fa;stroke:#4c78a8}svg.graph .bottleneck rect{fill:#fde3e3;stroke:#d6333b;stroke-width:2}
svg.graph text{font-size:10px;fill:#333}svg.graph text.n{font-size:11px;font-weight:600;fill:#1d2430}
svg.graph text.tag{font-size:10px;font-weight:700;fill:#d6333b}
"""


def render_html(doc: dict, design) -> str:
    """The page for `doc` (compiler.report.build_report's document) of `design` (whose graph
    gives the dataflow edges the document does not keep)."""
    title = escape(f"qcompile report: {doc['design']}")
    body = "\n".join((_header(doc), _gauges(doc), _layer_table(doc), _graph(doc, design.graph),
                      _folding(doc), _accuracy(doc)))
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
            f"<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


# ---- formatting ----------------------------------------------------------------------------

def _num(x: float) -> str:
    """Resource counts: whole numbers with separators; small fractional ones (BRAM halves) kept."""
    return f"{x:,.0f}" if abs(x) >= 10 or x == int(x) else f"{x:.2g}"


def _level(pct: float) -> str:
    """Gauge colour class: green below 70%, amber below 100%, red from 100%."""
    return "ok" if pct < 70 else "warn" if pct < 100 else "over"


def _shorten(text: str, n: int) -> str:
    """At most n characters, keeping more of the end, where layer names say most (conv2d_3/BiasAdd)."""
    if len(text) <= n:
        return text
    head = (n - 1) // 3
    return text[:head] + "…" + text[len(text) - (n - 1 - head):]


def _bar(fraction: float, cls: str) -> str:
    # a non-zero share stays visible however small it is next to the largest
    width = 0.0 if fraction <= 0 else max(1.0, 100 * min(fraction, 1.0))
    return f'<div class="bar"><i class="{cls}" style="width:{width:.1f}%"></i></div>'


def _fold_text(detail: dict) -> str:
    parts = [f"{detail['pe']}×{detail['simd']}"] if "pe" in detail and "simd" in detail else []
    if "reuse_factor" in detail:
        parts.append(f"RF {detail['reuse_factor']}")
    return " · ".join(parts) or "—"


def _table(head: list[str], rows: list[str]) -> str:
    ths = "".join(f"<th>{h}</th>" for h in head)
    return f"<table>\n<thead><tr>{ths}</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"


# ---- sections ------------------------------------------------------------------------------

def _header(doc: dict) -> str:
    t = doc["target"]
    fits = '<span class="fit">fits</span>' if doc["fits"] else '<span class="nofit">DOES NOT FIT</span>'
    ports = "; ".join(f"{kind} " + ", ".join(f"<code>{escape(n)}</code> {escape(ty)}" for n, ty in doc[kind].items())
                      for kind in ("inputs", "outputs"))
    return (f'<header id="summary">\n<h1>{escape(doc["design"])}</h1>\n'
            f'<p class="meta">model <code>{escape(doc["model"] or "(in memory)")}</code> · target '
            f'<b>{escape(t["name"])}</b> ({escape(t["part"])}, {doc["clock_mhz"]:g} MHz) · '
            f'qcompile {escape(doc["qcompile_version"])}</p>\n<p class="meta">{ports}</p>\n'
            f'<p class="summary">latency <b>{doc["latency_cycles"]:,} cycles</b> = <b>{doc["latency_us"]:.3f} µs</b>'
            f' · II <b>{doc["ii_cycles"]:,} cycles</b> · <b>{doc["throughput_per_s"]:,.0f}</b> inferences/s'
            f' · bottleneck <b>{escape(doc["bottleneck"])}</b> · {fits}</p>\n</header>')


def _gauges(doc: dict) -> str:
    return ('<section id="utilization">\n<h2>Device utilization</h2>\n<div class="gauges">\n'
            + "\n".join(_gauge(k, doc) for k in LABELS) + "\n</div>\n</section>")


def _gauge(key: str, doc: dict) -> str:
    used, avail, pct = doc["resources"][key], doc["available"][key], doc["utilization_pct"][key]
    if avail:
        level, shown, arc, note = _level(pct), f"{pct:.1f}%", min(pct, 100.0), f"{_num(used)} / {_num(avail)}"
    else:
        level, shown, arc = ("over" if used else "none"), "none", 0.0
        note = f"the device has none; needs {_num(used)}" if used else "the device has none"
    return (f'<div class="gauge {level}" id="gauge-{key}"><svg viewBox="0 0 100 60" width="126" height="76">'
            f'<path class="track" d="{GAUGE_ARC}" pathLength="100"/>'
            f'<path class="fill" d="{GAUGE_ARC}" pathLength="100" stroke-dasharray="{arc:.1f} 100"/>'
            f'<text class="pct" x="50" y="50">{shown}</text></svg>'
            f'<div class="label">{LABELS[key]}</div><div class="abs">{note}</div></div>')


def _layer_table(doc: dict) -> str:
    layers, avail = doc["layers"], doc["available"]
    max_lat = max((L["latency"] for L in layers), default=1) or 1
    max_ii = max((L["ii"] for L in layers), default=1) or 1
    rows = []
    for L in layers:
        hot = L["name"] == doc["bottleneck"]
        badge = '<span class="badge">bottleneck</span>' if hot else ""
        cells = [f'<td class="name">{escape(L["name"])}{badge}</td>', f"<td>{escape(L['op'])}</td>",
                 f"<td><code>{escape(L['style'])}</code></td>", f"<td>{_fold_text(L['detail'])}</td>",
                 f'<td>{_bar(L["latency"] / max_lat, "lat")}<span class="v">{L["latency"]:,} cyc</span></td>',
                 f'<td>{_bar(L["ii"] / max_ii, "hot" if hot else "lat")}<span class="v">{L["ii"]:,} cyc</span></td>']
        for k in LABELS:
            if avail[k]:
                pct = L["utilization"][k]
                cells.append(f'<td>{_bar(pct / 100, "over" if pct >= 100 else "res")}'
                             f'<span class="v">{_num(L[k])} ({pct:.1f}%)</span></td>')
            else:
                cells.append(f'<td><span class="v">{"needs " + _num(L[k]) if L[k] else "none"}</span></td>')
        rows.append(('<tr class="bottleneck">' if hot else "<tr>") + "".join(cells) + "</tr>")
    head = ["layer", "op", "kernel", "PE×SIMD · reuse", "latency", "II",
            *(f"{v} (% device)" for v in LABELS.values())]
    return ('<section id="layers">\n<h2>Layers</h2>\n<p class="meta">latency and II bars relative to the largest; '
            'resource bars as a share of the device</p>\n' + _table(head, rows) + "\n</section>")


class Box(NamedTuple):
    x: int
    y: int
    col: int
    band_top: int


def _layout(stages: list[list[str]]) -> tuple[dict[str, Box], int]:
    """Every layer's box, and the picture's height; a generation's layers stack in its column."""
    boxes, top = {}, BAND_GAP
    for start in range(0, len(stages), COLS):
        band = stages[start:start + COLS]
        for col, gen in enumerate(band):
            for row, name in enumerate(gen):
                boxes[name] = Box(MARGIN + col * (BOX_W + GAP_X), top + row * (BOX_H + GAP_Y), col, top)
        top += max(map(len, band)) * (BOX_H + GAP_Y) - GAP_Y + BAND_GAP
    return boxes, top


def _edge(a: Box, b: Box) -> str:
    """A curve between neighbouring columns; any other edge runs along the gaps (out to the right,
    through the gutter above the target's band, in from the left), never across a box."""
    x1, y1, x2, y2 = a.x + BOX_W, a.y + BOX_H // 2, b.x, b.y + BOX_H // 2
    if a.band_top == b.band_top and b.col == a.col + 1:
        mid = (x1 + x2) // 2
        d = f"M{x1} {y1}C{mid} {y1} {mid} {y2} {x2} {y2}"
    else:
        d = f"M{x1} {y1}H{x1 + GAP_X // 2}V{b.band_top - BAND_GAP // 2}H{x2 - GAP_X // 2}V{y2}H{x2}"
    return f'<path class="edge" d="{d}" marker-end="url(#arrow)"/>'


def _node_box(L: dict, box: Box, hot: bool) -> str:
    x, y, ii = box.x, box.y, f"II {L['ii']:,} · "
    tip = escape(f"{L['name']}\n{L['op']}\nII {L['ii']:,} cycles, latency {L['latency']:,} cycles")
    tag = f'<text class="tag" x="{x}" y="{y - 4}">bottleneck (II {L["ii"]:,})</text>' if hot else ""
    return (f'<g class="layer{" bottleneck" if hot else ""}"><title>{tip}</title>'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="4"/>{tag}'
            f'<text class="n" x="{x + 6}" y="{y + 15}">{escape(_shorten(L["name"], NAME_CHARS))}</text>'
            f'<text x="{x + 6}" y="{y + 29}">{escape(_shorten(L["op"], OP_CHARS))}</text>'
            f'<text x="{x + 6}" y="{y + 43}">{ii}{escape(_shorten(L["style"], OP_CHARS - len(ii)))}</text></g>')


def _graph(doc: dict, g) -> str:
    """The dataflow graph by topological generation (Graph.stages), an edge from the producer
    of each input tensor to its reader."""
    info = {L["name"]: L for L in doc["layers"]}
    stages = [[n.name for n in gen] for gen in g.stages()]
    boxes, height = _layout(stages)
    producer = {t: n.name for n in g.nodes() for t in n.outputs}
    edges = dict.fromkeys((producer[t], n.name) for n in g.nodes() for t in n.inputs if t in producer)
    width = 2 * MARGIN + min(COLS, len(stages)) * (BOX_W + GAP_X) - GAP_X
    svg = [f'<svg class="graph" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">',
           '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" '
           'orient="auto"><path d="M0 0L8 4L0 8z" fill="#9aa3b0"/></marker></defs>',
           *(_edge(boxes[a], boxes[b]) for a, b in edges),
           *(_node_box(info[name], box, name == doc["bottleneck"]) for name, box in boxes.items()), "</svg>"]
    return ('<section id="graph">\n<h2>Dataflow graph</h2>\n<p class="meta">one column per topological '
            f'generation, {COLS} per band; hover a box for its full name</p>\n<div class="scroll">\n'
            + "\n".join(svg) + "\n</div>\n</section>")


def _folding(doc: dict) -> str:
    opts = doc["options"]
    why = [f"<p>Folding request: <b>{escape(opts['fold'])}</b></p>"] if opts.get("fold") else []
    if opts.get("reuse_factor"):
        why.append(f"<p>Requested reuse factor <b>{opts['reuse_factor']}</b> for every MAC layer (its largest "
                   "cycle count per item not above it).</p>")
    for name, settings in (opts.get("layers") or {}).items():
        given = ", ".join(f"{escape(str(k))} {escape(str(v))}" for k, v in settings.items())
        why.append(f"<p>Requested for <code>{escape(name)}</code>: {given}</p>")
    rows = [f'<tr><td class="name">{escape(L["name"])}</td><td>{escape(L["op"])}</td><td>{d["pe"]}</td>'
            f'<td>{d["simd"]}</td><td>{d.get("reuse_factor", "—")}</td><td>{d.get("multipliers", "—")}</td>'
            f'<td>{L["ii"]:,}</td></tr>'
            for L in doc["layers"] for d in [L["detail"]] if "pe" in d and "simd" in d]
    table = _table(["MAC layer", "op", "PE", "SIMD", "reuse factor", "multipliers", "II"], rows) if rows else \
        "<p>No MAC layers.</p>"
    why.append(f"<p>The slowest stage, <b>{escape(doc['bottleneck'])}</b>, sets the interval: II "
               f"{doc['ii_cycles']:,} cycles, {doc['throughput_per_s']:,.0f} inferences/s.</p>")
    return '<section id="folding">\n<h2>Folding chosen and why</h2>\n' + "\n".join(why) + "\n" + table + "\n</section>"


def _accuracy(doc: dict) -> str:
    rows = [f'<tr><td class="name">{escape(L["name"])}</td><td>{escape(L["op"])}</td>'
            f'<td>{L.get("table_entries", L["detail"].get("table_entries", "—"))}</td>'
            f'<td>{L["max_abs_error"]:.2e}</td></tr>'
            for L in doc["layers"] if "max_abs_error" in L]
    body = (_table(["layer", "op", "table entries", "max abs error vs float"], rows) if rows else
            "<p>No lookup-table (or other approximating) ops in this design.</p>")
    return ('<section id="accuracy">\n<h2>Stated accuracy</h2>\n<p class="meta">ops that approximate a float '
            'function (lookup tables, rounded outputs): the largest error measured over their input codes</p>\n'
            + body + "\n</section>")
