"""Boards, the estimate API (overrides, consistency with the report), folding to a request,
and the report's JSON schema."""
import json
import re
import subprocess
import sys

import jsonschema
import numpy as np
import pytest

import compiler
from compiler.backend.csim import compare
from compiler.cost.target import available_targets, load_target
from compiler.errors import CompileError, InfeasibleError, TargetError
from compiler.report import build_report

from .conftest import ROOT, model_path

BOARDS = ["zcu104", "zcu102", "ultra96v2", "kv260", "pynq-z2", "alveo-u250", "alveo-u200", "vu9p", "vu13p"]
PARTS = {"xcvu13p-flga2577-2-e", "xcu250-figd2104-2L-e", "xc7z020clg400-1", "xczu9eg-ffvb1156-2-e",
         "xczu7ev-ffvc1156-2-e"}


def test_all_boards_load_with_sources():
    assert set(BOARDS) <= set(available_targets())
    parts = set()
    for name in BOARDS:
        t = load_target(name)
        assert all(v > 0 for k, v in t.resources.items() if k != "uram")
        assert t.clock_mhz > 0 and t.sources, name
        parts.add(t.part)
    assert PARTS <= parts


def _board(tmp_path, text):
    p = tmp_path / "myboard.toml"
    p.write_text(text)
    return p


GOOD = """name = "myboard"
part = "xc7z020clg400-1"
fabric = "seven_series"
dsp_type = "DSP48E1"
clock_mhz = 125
[resources]
lut = 53200
ff = 106400
dsp = 220
bram_18k = 280
uram = 0
"""


def test_user_board_file_works(tmp_path):
    design = compiler.compile_model(model_path("D05_jet_mlp_qonnx_w6a6"), str(_board(tmp_path, GOOD)))
    cost = compiler.estimate(design)
    assert design.target.name == "myboard" and cost.clock_mhz == 125 and cost.available["dsp"] == 220


@pytest.mark.parametrize("text,key", [
    (GOOD.replace('part = "xc7z020clg400-1"\n', ""), "'part'"),
    (GOOD.replace("dsp = 220", 'dsp = "many"'), "'resources.dsp'"),
    (GOOD.replace("clock_mhz = 125", "clock_mhz = -3"), "'clock_mhz'"),
    (GOOD.replace('fabric = "seven_series"', 'fabric = "stratix"'), "'fabric'"),
    ("name = [", "not valid TOML"),
])
def test_bad_board_file_names_the_key(tmp_path, text, key):
    with pytest.raises(TargetError, match=key):
        load_target(str(_board(tmp_path, text)))
    p = subprocess.run([sys.executable, "-m", "compiler.cli", model_path("D05_jet_mlp_qonnx_w6a6"), "--target",
                        tmp_path / "myboard.toml", "-o", tmp_path / "o"], capture_output=True, text=True)
    assert p.returncode == 2 and key.strip("'") in p.stderr and "Traceback" not in p.stderr


# ---- estimate API ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def d01():
    """D01 fully parallel (every layer's own settings or reuse 1: what the what-ifs start from)."""
    return compiler.compile_model(model_path("D01_jet_mlp_float"), "zcu104", reuse_factor=1)


def test_estimate_equals_report(d01, tmp_path):
    out = compiler.write_project(d01, tmp_path / "o")
    doc = json.loads((out / "report.json").read_text())
    est = compiler.estimate(d01).as_dict()
    for k in ("latency_cycles", "ii_cycles", "resources", "fits", "bottleneck"):
        assert doc[k] == est[k], k


def test_overrides_match_recompiling(d01):
    """What-if reuse factors give exactly the numbers of a design compiled with them."""
    dense = [n.name for n in d01.graph.nodes() if n.kind == "Dense"]
    layer_reuse = {dense[0]: 8, dense[1]: 16, dense[2]: 4}
    what_if = compiler.estimate(d01, {k: {"reuse_factor": v} for k, v in layer_reuse.items()}).as_dict()
    real = compiler.compile_model(model_path("D01_jet_mlp_float"), "zcu104", layer_reuse=layer_reuse, reuse_factor=1)
    assert what_if == compiler.estimate(real).as_dict()


def test_search_result_compiles_as_estimated(d01, tmp_path, rng):
    """A mixed-precision configuration from the estimate API (reuse factors, weight and
    activation widths per layer) compiles, through compile_model's `layers` or the CLI's
    --config, into a design whose estimate is the what-if's (exactly, but for the weights
    that narrower widths round to zero: the what-if re-quantizes the design's 16-bit weights,
    the compiler the model's floats), and whose C++ is bit-exact with its simulator."""
    dense = [n.name for n in d01.graph.nodes() if n.kind == "Dense"]
    layers = {dense[0]: {"weight_bits": 6, "act_bits": 10, "reuse_factor": 4}, dense[1]: {"weight_bits": 9},
              dense[2]: {"act_bits": 8}}
    what_if = compiler.estimate(d01, layers).as_dict()
    real = compiler.compile_model(model_path("D01_jet_mlp_float"), "zcu104", layers=layers, reuse_factor=1)
    got = compiler.estimate(real).as_dict()
    assert (got["latency_cycles"], got["ii_cycles"]) == (what_if["latency_cycles"], what_if["ii_cycles"])
    for r in ("dsp", "lut", "ff", "bram_18k"):
        assert got["resources"][r] == pytest.approx(what_if["resources"][r], rel=2e-3), r
    no_widths = {k: {kk: v for kk, v in ov.items() if kk != "weight_bits"} for k, ov in layers.items()}
    exact = compiler.compile_model(model_path("D01_jet_mlp_float"), "zcu104", layers=no_widths, reuse_factor=1)
    assert compiler.estimate(exact).as_dict() == compiler.estimate(d01, no_widths).as_dict()
    first = real.graph.nodes()[0]
    assert first.op.weight_type.width == 6 and real.graph.out_tensors(first)[0].type.width == 10
    r = compare(real, compiler.write_project(real, tmp_path / "out"), rng.normal(size=(300, 16)))
    assert r.mismatches == 0
    config = tmp_path / "best.json"
    config.write_text(json.dumps({"layers": layers}))
    cli = subprocess.run([sys.executable, "-m", "compiler.cli", str(model_path("D01_jet_mlp_float")), "--config",
                          str(config), "--reuse-factor", "1", "-o", str(tmp_path / "cli")], capture_output=True,
                         text=True, cwd=ROOT)
    assert cli.returncode == 0, cli.stderr
    report = json.loads((tmp_path / "cli" / "report.json").read_text())
    assert report["latency_cycles"] == got["latency_cycles"]
    assert report["resources"] == pytest.approx(got["resources"])


@pytest.mark.parametrize("model,layer,knobs,words", [
    ("D01_jet_mlp_float", 0, {"pruning": 0.5}, "pruning is a what-if of the estimate only"),
    ("D01_jet_mlp_float", 0, {"act_bits": 40}, "act_bits=40 (supported: integers 2..32)"),
    ("D01_jet_mlp_float", 0, {"depth": 3}, "unknown setting 'depth'"),
    ("D01_jet_mlp_float", "Softmax", {"weight_bits": 8}, "node 'Softmax' (Softmax): weight_bits cannot be set: it has no weights"),
    ("D01_jet_mlp_float", "nope", {"act_bits": 8}, "widths given for unknown layer 'nope'"),
    ("D05_jet_mlp_qonnx_w6a6", 0, {"weight_bits": 8}, "its weights are quantized by the model"),
])
def test_bad_layer_settings_are_clear_errors(model, layer, knobs, words):
    path = model_path(model)
    if isinstance(layer, int):
        layer = compiler.compile_model(path, "zcu104").graph.nodes()[layer].name
    with pytest.raises(CompileError, match=re.escape(words)):
        compiler.compile_model(path, "zcu104", layers={layer: knobs})


def test_override_knobs_move_costs_the_right_way(d01):
    first = next(n.name for n in d01.graph.nodes() if n.kind == "Dense")
    base = compiler.estimate(d01)
    narrow = compiler.estimate(d01, {first: {"weight_bits": 4}})
    pruned = compiler.estimate(d01, {first: {"pruning": 0.75}})
    thin = compiler.estimate(d01, {first: {"act_bits": 6}})
    assert narrow.totals["dsp"] < base.totals["dsp"]          # 16x4 products leave the DSPs
    assert pruned.layers[0][2].detail["multipliers"] == 256   # 1024 products, 75% pruned
    # the next layer reads 6-bit values: its 6x16-bit products move from DSPs to LUTs
    assert thin.layers[1][2].dsp < base.layers[1][2].dsp and thin.layers[1][2].lut > base.layers[1][2].lut
    with pytest.raises(CompileError, match="unknown override"):
        compiler.estimate(d01, {first: {"bits": 4}})
    with pytest.raises(CompileError, match="unknown layer"):
        compiler.estimate(d01, {"nope": {"reuse_factor": 2}})


@pytest.mark.parametrize("kind", ["dense"])
def test_cost_is_monotone_in_parallelism(d01, kind):
    layer = next(n for n in d01.graph.nodes() if n.kind == "Dense")
    previous = None
    for rf in layer.op.fold_choices(d01.target):
        c = compiler.estimate(d01, {layer.name: {"reuse_factor": rf}}).layers[0][2]
        if previous is not None:
            assert c.ii >= previous.ii and c.dsp <= previous.dsp and c.detail["multipliers"] <= previous.detail["multipliers"]
        previous = c


# ---- folding -------------------------------------------------------------------------------
def test_fit_gives_the_fastest_design_within_the_caps(d01):
    caps = {"dsp": 0.3, "lut": 0.5}
    design = compiler.compile_model(model_path("D01_jet_mlp_float"), "zcu104", fit=True, caps=caps)
    c = compiler.estimate(design)
    share = {k: c.totals[k] / c.available[k] for k in c.totals if c.available[k]}
    assert share["dsp"] <= 0.3 and share["lut"] <= 0.5 and all(v <= 0.8 for v in share.values())
    # one step faster would break a cap: no layer can take its next smaller reuse factor at this II
    faster = {n.name: {"reuse_factor": max(r for r in n.op.fold_choices(design.target) if r < n.op.reuse_factor)}
              for n in design.graph.nodes() if n.kind == "Dense" and n.op.reuse_factor > 1
              and c.ii == n.op.reuse_factor}
    if faster:
        f = compiler.estimate(design, faster)
        assert f.totals["dsp"] > 0.3 * f.available["dsp"] or f.totals["lut"] > 0.5 * f.available["lut"]


@pytest.mark.parametrize("fps", [5e6, 2e7, 5e7])
def test_fps_request_is_met_cheaply(fps):
    design = compiler.compile_model(model_path("D01_jet_mlp_float"), "zcu104", fps=fps)
    c = compiler.estimate(design)
    assert c.throughput >= fps and c.fits
    assert design.options["fold"].startswith(f"{fps:g}")


def test_latency_request_is_met():
    design = compiler.compile_model(model_path("D01_jet_mlp_float"), "zcu104", latency_us=0.5)
    c = compiler.estimate(design)
    assert c.latency_us <= 0.5 and c.fits and c.ii > 1  # folded, not simply fully parallel


@pytest.mark.parametrize("args,words", [
    (["--fps", "3e8"], ["needs", "(the wall)"]),
    (["--latency-us", "0.01"], ["impossible", "(the wall)"]),
    (["--target", "pynq-z2", "--fps", "5e7"], ["dsp", "(the wall)"]),
])
def test_impossible_request_exits_2_naming_the_wall(args, words, tmp_path):
    p = subprocess.run([sys.executable, "-m", "compiler.cli", model_path("D01_jet_mlp_float"), *args, "-o",
                        tmp_path / "o"], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert all(w in p.stderr for w in words), p.stderr
    assert "layer '" in p.stderr
    assert not (tmp_path / "o").exists()


def test_infeasible_error_type():
    with pytest.raises(InfeasibleError):
        compiler.compile_model(model_path("D01_jet_mlp_float"), "zcu104", latency_us=0.001)


# ---- the report's schema -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["D01_jet_mlp_float", "D06_tfc_binary_w1a1", "D12_jet_mlp_qdq_int8_generated"])
def test_report_matches_its_schema(name):
    schema = json.loads((ROOT / "docs" / "report.schema.json").read_text())
    design = compiler.compile_model(model_path(name), "zcu104")
    doc = json.loads(json.dumps(build_report(design, compiler.estimate(design))))
    jsonschema.validate(doc, schema)
    assert np.isfinite(doc["latency_us"])


def test_folding_on_a_cnn():
    """D10 (mnist-8): a throughput request folds the convolutions' MAC arrays; --fit with a
    tight DSP cap gives the fastest design under it."""
    path = model_path("D10_mnist8_cnn_float_gold")
    design = compiler.compile_model(path, "zcu104", fps=1e5)
    c = compiler.estimate(design)
    convs = [n for n in design.graph.nodes() if n.kind == "Conv"]
    assert c.throughput >= 1e5 and c.fits and all(n.op.reuse_factor > 1 for n in convs)
    tight = compiler.compile_model(path, "zcu104", fit=True, caps={"dsp": 0.1})
    t = compiler.estimate(tight)
    assert t.totals["dsp"] <= 0.1 * t.available["dsp"]
    overrides = {n.name: {"reuse_factor": n.op.reuse_factor} for n in convs}
    assert compiler.estimate(design, overrides).as_dict() == c.as_dict()


@pytest.mark.parametrize("ov,words", [
    ({"reuse_factor": 0}, "reuse_factor=0"), ({"reuse_factor": 3}, "supported: 1, 2, 4"),
    ({"pruning": 1.5}, "pruning=1.5"), ({"weight_bits": 0}, "weight_bits=0"), ({"act_bits": 99}, "act_bits=99"),
])
def test_bad_override_values_are_clear_errors(d01, ov, words):
    first = next(n.name for n in d01.graph.nodes() if n.kind == "Dense")
    with pytest.raises(CompileError, match=re.escape(words)):
        compiler.estimate(d01, {first: ov})


def test_remembered_configurations_are_still_validated(d01):
    """The whole-network memo returns a configuration seen before, but never lets a value of
    another type (True for 1) past the checks, and a result does not depend on the memo."""
    first = next(n.name for n in d01.graph.nodes() if n.kind == "Dense")
    est = d01.estimator()
    fresh = compiler.estimate(d01, {first: {"reuse_factor": 2}}).as_dict()
    assert compiler.estimate(d01, {first: {"reuse_factor": 2}}).as_dict() == fresh
    est._networks.clear()
    est._memo.clear()
    assert compiler.estimate(d01, {first: {"reuse_factor": 2}}).as_dict() == fresh
    compiler.estimate(d01, {first: {"reuse_factor": 1}})
    with pytest.raises(CompileError, match="reuse_factor=True"):
        compiler.estimate(d01, {first: {"reuse_factor": True}})


def test_knob_on_a_layer_without_it_is_refused(d01):
    with pytest.raises(CompileError, match=r"'Softmax' \(Softmax\) has no reuse_factor"):
        compiler.estimate(d01, {"Softmax": {"reuse_factor": 2}})


def test_weight_bits_override_is_kept_when_input_width_cancels_it(d01):
    dense = [n.name for n in d01.graph.nodes() if n.kind == "Dense"]
    a = compiler.estimate(d01, {dense[1]: {"weight_bits": 14}, dense[0]: {"act_bits": 18}})
    b = compiler.estimate(d01, {dense[1]: {"weight_bits": 16}, dense[0]: {"act_bits": 18}})
    assert a.layers[1][2].lut != b.layers[1][2].lut or a.layers[1][2].dsp != b.layers[1][2].dsp


def test_reuse_factor_must_divide_the_products():
    """A per-layer reuse factor that is not a cycle count of the MAC array (a PE x SIMD shape
    splits it evenly) is refused, naming the layer and the nearest valid factors; the global
    one rounds down per layer instead."""
    path = model_path("D01_jet_mlp_float")
    d = compiler.compile_model(path, "zcu104", reuse_factor=7)
    dense = [n for n in d.graph.nodes() if n.kind == "Dense"]
    for n in dense:
        products = n.op.n_in * n.op.n_out
        assert products % n.op.reuse_factor == 0 and n.op.reuse_factor <= 7
        assert not [r for r in range(n.op.reuse_factor + 1, 8) if products % r == 0]
    with pytest.raises(CompileError) as e:
        compiler.compile_model(path, "zcu104", layer_reuse={dense[0].name: 7})
    msg = str(e.value)
    assert dense[0].name in msg and "Dense" in msg and "is not a cycle count" in msg and "nearest valid: 4, 8" in msg


def _random_configs(design, n, seed):
    """Search-like configurations: random subsets of layers and knobs (some empty), in varying
    dict orders, act_bits also on layers without weights."""
    rng = np.random.default_rng(seed)
    nodes = list(design.graph.nodes())
    configs = []
    for _ in range(n):
        cfg = {}
        for node in rng.permutation(len(nodes)).tolist():
            node = nodes[node]
            choices = node.op.fold_choices(design.target)
            ov = {}
            if rng.random() < 0.4:
                ov["act_bits"] = int(rng.integers(3, 20))
            if choices and rng.random() < 0.7:
                if rng.random() < 0.7:
                    ov["reuse_factor"] = int(rng.choice(choices))
                else:
                    shapes = node.op.mac_shapes(design.target)
                    ov["pe"], ov["simd"] = map(int, shapes[int(rng.integers(len(shapes)))])
            if choices and rng.random() < 0.5:
                ov["weight_bits"] = int(rng.integers(2, 17))
            if choices and rng.random() < 0.3:
                ov["pruning"] = float(rng.choice([0.0, 0.25, 0.5, 0.9]))
            if ov and rng.random() < 0.6:
                cfg[node.name] = ov
        configs.append(cfg)
    return configs


@pytest.mark.parametrize("name", ["D01_jet_mlp_float", "D06_tfc_binary_w1a1", "D07_unsw_mlp_w2a2_sparse",
                                  "D10_mnist8_cnn_float_gold"])
def test_estimate_batch_equals_estimate(name):
    """estimate_batch (MAC layers over arrays, other layers once per distinct setting, numpy
    composition) gives each configuration exactly estimate()'s numbers."""
    design = compiler.compile_model(model_path(name), "zcu104")
    configs = _random_configs(design, 300, seed=len(name))
    batch = compiler.estimate_batch(design, configs)
    assert len(batch) == len(configs)
    for k, cfg in enumerate(configs):
        one = compiler.estimate(design, cfg)
        assert (batch.latency[k], batch.ii[k]) == (one.latency, one.ii), (k, cfg)
        for r in one.totals:
            assert batch.totals[r][k] == pytest.approx(one.totals[r], rel=1e-12, abs=1e-9), (k, r, cfg)
        assert batch.fits[k] == one.fits and batch.latency_us[k] == pytest.approx(one.latency_us)


def test_estimate_batch_names_the_bad_configuration(d01):
    dense = [n.name for n in d01.graph.nodes() if n.kind == "Dense"]
    good = {dense[0]: {"reuse_factor": 2, "act_bits": 8}}
    with pytest.raises(CompileError, match=re.escape(f"configuration 2: layer '{dense[0]}': reuse_factor=True")):
        compiler.estimate_batch(d01, [good, good, {dense[0]: {"reuse_factor": True, "act_bits": 8}}])
    with pytest.raises(CompileError, match="configuration 1: .*pruning=nan"):
        compiler.estimate_batch(d01, [good, {dense[1]: {"pruning": float("nan")}}])
    with pytest.raises(CompileError, match="configuration 0: overrides must be a dict"):
        compiler.estimate_batch(d01, [[1, 2]])
    with pytest.raises(CompileError, match="configuration 0: override for unknown layer 'nope'"):
        compiler.estimate_batch(d01, [{"nope": {"act_bits": 8}}])
    assert len(compiler.estimate_batch(d01, [])) == 0
