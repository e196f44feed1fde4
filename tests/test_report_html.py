"""report.html: well-formed, complete (every layer by its full name, gauges equal to the report's
numbers, edges equal to the dataflow, the bottleneck marked), self-contained, escaped, and
bounded in size for large graphs."""
from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from html.parser import HTMLParser

import numpy as np
import pytest
from onnx import helper

import compiler
from compiler.errors import CompileError
from compiler.report import build_report
from compiler.report_html import BOX_H, BOX_W, LABELS, NAME_CHARS, render_html

from .conftest import ROOT, SHARED, model_path
from .onnx_builders import make_model, save

DIGITS = ROOT / "examples" / "digits_mlp.onnx"
SMALL = ["digits", "D04_conv2d_bn_pool_float", "D09_kws_dscnn_qdq_int8"]   # an MLP and two CNNs
DEV = [e["name"] for e in json.loads((SHARED / "models" / "dev" / "MANIFEST.json").read_text())] if SHARED else []
VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "source"}


class El:
    def __init__(self, tag, attrs):
        self.tag, self.attrs, self.children = tag, dict(attrs), []

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, El):
                yield from c.iter()

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def own_text(self) -> str:
        """Text outside child elements (a name cell without its badge)."""
        return "".join(c for c in self.children if isinstance(c, str))

    def find(self, tag, cls=None) -> list["El"]:
        return [e for e in self.iter() if e.tag == tag and (cls is None or cls in e.classes)]


class Tree(HTMLParser):
    """A strict reading: every end tag closes the innermost open element and all get closed
    (the stdlib parser alone accepts anything)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = El("#root", [])
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        el = El(tag, attrs)
        self.stack[-1].children.append(el)
        if tag not in VOID:
            self.stack.append(el)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(El(tag, attrs))

    def handle_endtag(self, tag):
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(page: str) -> El:
    t = Tree()
    t.feed(page)
    t.close()
    assert [e.tag for e in t.stack] == ["#root"], f"unclosed: {[e.tag for e in t.stack[1:]]}"
    return t.root


def by_id(root: El, ident: str) -> El:
    (el,) = [e for e in root.iter() if e.attrs.get("id") == ident]
    return el


@lru_cache(maxsize=None)
def _compiled(path: str, target: str = "zcu104", **kw):
    design = compiler.compile_model(path, target, **kw)
    doc = build_report(design, compiler.estimate(design))
    return doc, design, render_html(doc, design)


def report(name: str, target: str = "zcu104", **kw):
    return _compiled(str(DIGITS if name == "digits" else model_path(name)), target, **kw)


def residual(blocks: int, prefix: str, c: int = 4):
    """blocks x (Gemm, Tanh, Add of the block's input): a deep graph with skip edges."""
    rng = np.random.default_rng(1)
    nodes, inits, x = [], [], "x"
    for i in range(blocks):
        nodes += [helper.make_node("Gemm", [x, f"W{i}", f"B{i}"], [f"g{i}"], name=f"{prefix}{i}/fc"),
                  helper.make_node("Tanh", [f"g{i}"], [f"r{i}"], name=f"{prefix}{i}/act"),
                  helper.make_node("Add", [f"r{i}", x], [f"h{i}"], name=f"{prefix}{i}/add")]
        inits += [(f"W{i}", 0.3 * rng.normal(size=(c, c))), (f"B{i}", 0.1 * rng.normal(size=c))]
        x = f"h{i}"
    nodes.append(helper.make_node("Identity", [x], ["y"], name="out"))
    return make_model(nodes, [("x", [c])], [("y", [c])], inits)


def graph_boxes(root: El) -> dict[str, El]:
    """Graph boxes by the full layer name their tooltip starts with."""
    (svg,) = root.find("svg", "graph")
    return {g.find("title")[0].text().split("\n")[0]: g for g in svg.find("g", "layer")}


def endpoints(d: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """First and last point of an SVG path made of M, H, V, C commands."""
    x = y = 0.0
    start = None
    for cmd, args in re.findall(r"([MHVC])([^MHVC]*)", d):
        v = [float(a) for a in args.split()]
        if cmd == "H":
            x = v[-1]
        elif cmd == "V":
            y = v[-1]
        else:
            x, y = v[-2], v[-1]
        start = start or (x, y)
    return start, (x, y)


def assert_self_contained(page: str, root: El) -> None:
    assert "http://" not in page and "https://" not in page
    assert not root.find("script") and not root.find("link") and not root.find("img") and not root.find("iframe")
    assert all("src" not in e.attrs and "href" not in e.attrs for e in root.iter())
    assert set(re.findall(r"url\(([^)]*)\)", page)) <= {"#arrow"}, "only in-page references"
    assert "@import" not in page


# ---- content -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SMALL)
def test_page_is_well_formed_and_names_every_layer(name):
    doc, _, page = report(name)
    root = parse(page)
    names = [L["name"] for L in doc["layers"]]
    assert [td.own_text() for td in by_id(root, "layers").find("td", "name")] == names
    assert sorted(graph_boxes(root)) == sorted(names)
    summary = " ".join(by_id(root, "summary").text().split())
    for fact in (doc["design"], doc["model"], doc["target"]["part"], f"{doc['latency_cycles']:,} cycles",
                 f"{doc['latency_us']:.3f} µs", f"II {doc['ii_cycles']:,} cycles", f"bottleneck {doc['bottleneck']}"):
        assert fact in summary, fact
    assert summary.endswith(" fits")


@pytest.mark.parametrize("name", SMALL)
def test_bottleneck_is_marked_in_graph_and_table(name):
    doc, _, page = report(name)
    root = parse(page)
    marked = [n for n, g in graph_boxes(root).items() if "bottleneck" in g.classes]
    assert marked == [doc["bottleneck"]]
    assert "bottleneck" in graph_boxes(root)[doc["bottleneck"]].find("text", "tag")[0].text()
    (row,) = by_id(root, "layers").find("tr", "bottleneck")
    assert row.find("td", "name")[0].own_text() == doc["bottleneck"]
    hot = row.find("i", "hot")
    assert len(hot) == 1 and hot[0].attrs["style"] == "width:100.0%"   # its II is the largest
    assert len(root.find("i", "hot")) == 1


@pytest.mark.parametrize("name", SMALL)
def test_graph_edges_join_each_producer_to_its_readers(name):
    doc, design, page = report(name)
    g = design.graph
    expected = {(g.producer(t).name, n.name) for n in g.nodes() for t in n.inputs if g.producer(t) is not None}
    rects = {name: box.find("rect")[0].attrs for name, box in graph_boxes(parse(page)).items()}
    out_port = {(float(r["x"]) + BOX_W, float(r["y"]) + BOX_H // 2): n for n, r in rects.items()}
    in_port = {(float(r["x"]), float(r["y"]) + BOX_H // 2): n for n, r in rects.items()}
    (svg,) = parse(page).find("svg", "graph")
    drawn = [endpoints(p.attrs["d"]) for p in svg.find("path", "edge")]
    assert sorted((out_port[a], in_port[b]) for a, b in drawn) == sorted(expected)


@pytest.mark.parametrize("name", SMALL)
def test_gauges_show_the_reported_utilization(name):
    doc, _, page = report(name)
    root = parse(page)
    for k, pct in doc["utilization_pct"].items():
        gauge = by_id(root, f"gauge-{k}")
        assert gauge.find("text", "pct")[0].text() == f"{pct:.1f}%"
        assert gauge.find("path", "fill")[0].attrs["stroke-dasharray"] == f"{min(pct, 100):.1f} 100"
        assert gauge.classes[1] == ("ok" if pct < 70 else "warn" if pct < 100 else "over")
        assert f"{doc['available'][k]:,}" in gauge.text()


def test_gauge_levels_missing_resources_and_a_design_that_does_not_fit():
    doc, design, page = report("digits", "pynq-z2", reuse_factor=1)   # far too many DSPs; no URAM
    assert not doc["fits"] and doc["available"]["uram"] == 0
    root = parse(page)
    assert by_id(root, "summary").find("span", "nofit")[0].text() == "DOES NOT FIT"
    assert by_id(root, "gauge-dsp").classes[1] == "over"
    uram = by_id(root, "gauge-uram")
    assert uram.classes[1] == "none" and uram.find("text", "pct")[0].text() == "none"
    # the thresholds, and a resource the design needs but the device lacks
    doc = copy.deepcopy(doc)
    doc["utilization_pct"].update(lut=69.9, ff=70.0, dsp=99.96, bram_18k=100.0, uram=None)
    doc["resources"]["uram"] = 3.0
    root = parse(render_html(doc, design))
    levels = {k: by_id(root, f"gauge-{k}").classes[1] for k in LABELS}
    assert levels == {"lut": "ok", "ff": "warn", "dsp": "warn", "bram_18k": "over", "uram": "over"}
    assert "needs 3" in by_id(root, "gauge-uram").text()


def test_folding_section_gives_the_request_and_every_mac_layer():
    doc, _, page = report("D04_conv2d_bn_pool_float")
    section = by_id(parse(page), "folding")
    assert doc["options"]["fold"] in section.text()
    macs = [L for L in doc["layers"] if "pe" in L["detail"]]
    rows = [[td.text() for td in tr.find("td")] for tr in section.find("tbody")[0].find("tr")]
    assert rows == [[L["name"], L["op"], str(L["detail"]["pe"]), str(L["detail"]["simd"]),
                     str(L["detail"]["reuse_factor"]), str(L["detail"]["multipliers"]), f"{L['ii']:,}"] for L in macs]
    layer_rows = {tr.find("td", "name")[0].own_text(): tr.find("td")[3].text()
                  for tr in by_id(parse(page), "layers").find("tbody")[0].find("tr")}
    for L in macs:
        d = L["detail"]
        assert layer_rows[L["name"]] == f"{d['pe']}×{d['simd']} · RF {d['reuse_factor']}"
    assert "Requested reuse factor 4" in by_id(parse(report("digits", reuse_factor=4)[2]), "folding").text()
    assert "1e+06 inferences/s" in by_id(parse(report("digits", fps=1e6)[2]), "folding").text()


@pytest.mark.parametrize("name", ["D04_conv2d_bn_pool_float", "D06_tfc_binary_w1a1"])
def test_stated_accuracy_lists_every_lookup_table_op(name):
    doc, _, page = report(name)
    section = by_id(parse(page), "accuracy")
    stated = [L for L in doc["layers"] if "max_abs_error" in L]
    tbody = section.find("tbody")
    rows = [[td.text() for td in tr.find("td")] for tr in tbody[0].find("tr")] if tbody else []
    assert rows == [[L["name"], L["op"], str(L.get("table_entries", L["detail"].get("table_entries", "—"))),
                     f"{L['max_abs_error']:.2e}"] for L in stated]
    assert bool(rows) == (name == "D04_conv2d_bn_pool_float")   # Selu tables and a Softmax; binary: none


# ---- safety and size -----------------------------------------------------------------------

def test_model_text_is_escaped(tmp_path):
    folder = tmp_path / "<b>models&co"
    folder.mkdir()
    path = save(residual(2, "<script>alert(1)</script>"), folder / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    doc = build_report(design, compiler.estimate(design))
    page = render_html(doc, design)
    root = parse(page)
    assert "<script" not in page.lower() and "<b>models" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert all(not b.text().startswith("models") for b in root.find("b"))   # the path made no element
    assert [td.own_text() for td in by_id(root, "layers").find("td", "name")] == [L["name"] for L in doc["layers"]]
    assert str(path) in by_id(root, "summary").text()
    assert_self_contained(page, root)


@pytest.mark.parametrize("name", SMALL)
def test_page_is_self_contained(name):
    _, _, page = report(name)
    assert_self_contained(page, parse(page))


def test_large_graph_stays_bounded_and_readable(tmp_path):
    design = compiler.compile_model(save(residual(70, "model/encoder/block_"), tmp_path / "deep.onnx"), "zcu104")
    doc = build_report(design, compiler.estimate(design))
    page = render_html(doc, design)
    root = parse(page)
    assert len(doc["layers"]) >= 200
    assert len(page.encode()) < 1_000_000
    (svg,) = root.find("svg", "graph")
    assert int(svg.attrs["width"]) <= 1500   # generations wrap into bands instead of one long row
    names = [L["name"] for L in doc["layers"]]
    assert [td.own_text() for td in by_id(root, "layers").find("td", "name")] == names   # full, never cut
    boxes = graph_boxes(root)
    assert sorted(boxes) == sorted(names)
    shown = {n: g.find("text", "n")[0].text() for n, g in boxes.items()}
    assert all(len(s) <= NAME_CHARS for s in shown.values())
    assert any(s != n for n, s in shown.items()), "long names are shortened in the boxes"
    assert all(s == n or (s.split("…")[1] and n.endswith(s.split("…")[1])) for n, s in shown.items())
    assert_self_contained(page, root)


@pytest.mark.parametrize("name", DEV)
def test_every_dev_model_renders_within_bounds(name):
    try:
        doc, _, page = report(name)
    except CompileError as e:   # a model the compiler refuses has no report
        pytest.skip(f"{name}: {e}")
    root = parse(page)
    assert len(page.encode()) < 1_000_000
    assert [td.own_text() for td in by_id(root, "layers").find("td", "name")] == [L["name"] for L in doc["layers"]]
    assert_self_contained(page, root)
