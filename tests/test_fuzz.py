"""The mutation fuzzer (compiler/validation/fuzz.py): its classifier on hand-made outcomes,
its mutators on the dev models, and a short seeded run (benchmarks/fuzz.py runs long ones)."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from compiler.errors import CompileError, ModelError, UnsupportedError
from compiler.validation import fuzz

from .conftest import model_path

SHORT_RUN_SEEDS = ("D01_jet_mlp_float", "D07_unsw_mlp_w2a2_sparse", "D10_mnist8_cnn_float_gold")


def _seed(name: str) -> fuzz.Seed:
    return fuzz.Seed(name, name.split("_")[0], str(model_path(name)))


def _compiled(**changes) -> fuzz.Observation:
    """A design that compiled and simulated: outputs equal to the reference unless changed."""
    obs = dict(compiled=True, stage="reference", simulated=[np.zeros((8, 5))], reference=[np.zeros((8, 5))],
               lsb=[2.0 ** -10], declared_outputs=1)
    obs.update(changes)
    return fuzz.Observation(**obs)


# ---- classify ----------------------------------------------------------------------------------
def test_one_line_compile_error_is_a_refusal():
    v = fuzz.classify(fuzz.Observation(error=UnsupportedError("node 'g' (Gemm): transB=2 is not supported"),
                                       stage="compile"))
    assert (v.status, v.sub) == ("refused", "refused")
    assert "transB=2" in v.detail


class _RawMessage(ModelError):
    """A CompileError whose text skips the escaping CompileError does (a subclass that
    overrides __str__): the classifier must still catch it."""

    def __init__(self, text):
        super().__init__("")
        self.text = text

    def __str__(self):
        return self.text


@pytest.mark.parametrize("message", ["node 'a\nb' (Relu): unsupported", "first line\r", "nul \x00 in it", "",
                                     "line\u2028separator"])
def test_compile_error_that_is_not_one_clean_line_is_a_crash(message):
    v = fuzz.classify(fuzz.Observation(error=_RawMessage(message), stage="compile"))
    assert (v.status, v.sub) == ("crash", "message")
    assert "\n" not in v.detail


@pytest.mark.parametrize("message", ["node 'a\nb' (Relu): unsupported", "nul \x00 in it", "line\u2028separator"])
def test_compile_errors_escape_what_does_not_print(message):
    e = ModelError(message)
    assert str(e).isprintable() and len(str(e).splitlines()) == 1
    assert fuzz.classify(fuzz.Observation(error=e, stage="compile")).status == "refused"


def test_other_exception_is_a_crash():
    v = fuzz.classify(fuzz.Observation(error=ValueError("operands could not be broadcast"), stage="compile"))
    assert (v.status, v.sub) == ("crash", "exception")
    assert v.detail.startswith("ValueError in compile")


def test_crash_after_compile_is_a_crash():
    v = fuzz.classify(fuzz.Observation(compiled=True, error=KeyError("x"), stage="write"))
    assert v.status == "crash" and "write" in v.detail


def test_outputs_within_tolerance_are_ok_and_beyond_it_wrong():
    want = [np.full((8, 5), 1.0)]
    ok = fuzz.classify(_compiled(reference=want, simulated=[np.full((8, 5), 1.04)]))
    assert (ok.status, ok.sub) == ("ok", "ok")
    off = fuzz.classify(_compiled(reference=want, simulated=[np.full((8, 5), 1.2)]))
    assert (off.status, off.sub) == ("wrong", "mismatch")
    nan = fuzz.classify(_compiled(reference=want, simulated=[np.full((8, 5), np.nan)]))
    assert nan.status == "wrong"


def test_another_shape_or_count_is_wrong():
    assert fuzz.classify(_compiled(simulated=[np.zeros((8, 4))])).sub == "shape"
    assert fuzz.classify(_compiled(simulated=[np.zeros((8, 5))] * 2)).sub == "count"
    assert fuzz.classify(_compiled(reference=None, reference_error="ModelError: no", simulated=[],
                                   declared_outputs=1)).sub == "count"


def test_nonfinite_reference_is_wrong():
    v = fuzz.classify(_compiled(reference=[np.full((8, 5), np.inf)]))
    assert (v.status, v.sub) == ("wrong", "nonfinite")


def test_checker_rejected_but_compiled_is_wrong():
    v = fuzz.classify(_compiled(checker="ValidationError: Nodes in a graph must be topologically sorted"))
    assert (v.status, v.sub) == ("wrong", "invalid-accepted")
    assert "topologically sorted" in v.detail and "within tolerance" in v.detail
    later = fuzz.classify(fuzz.Observation(compiled=True, checker="ValidationError: x", stage="write",
                                           error=CompileError("cannot write")))
    assert later.status == "wrong"


def test_reference_failure_is_unjudged_when_the_checker_accepts():
    v = fuzz.classify(_compiled(reference=None, reference_error="ModelError: onnxruntime cannot run it"))
    assert (v.status, v.sub) == ("ok", "ok-unjudged")


def test_timeout_is_a_hang():
    assert fuzz.classify(fuzz.Observation(timed_out=True, stage="compile")).status == "hang"


def test_signatures_group_by_exception_and_frame():
    rs = [{"id": f"D01-0-{k}", "seed": "D01", "status": "crash", "sub": "exception", "error_type": "KeyError",
           "compiler_frame": "compiler/report.py:12", "detail": "KeyError in write: 'x'", "mutations": []}
          for k in range(3)]
    sigs = fuzz.signatures(rs + [{"id": "D01-0-9", "seed": "D01", "status": "refused", "sub": "refused",
                                  "detail": "", "mutations": []}])
    assert len(sigs) == 1 and sigs[0]["count"] == 3 and sigs[0]["example"] == "D01-0-0"
    assert "compiler/report.py:12" in sigs[0]["signature"]


# ---- mutators and cases ------------------------------------------------------------------------
def test_every_mutator_applies_to_a_dev_model():
    seeds = [_seed(n) for n in ("D01_jet_mlp_float", "D02_jet_mlp_bn_float", "D07_unsw_mlp_w2a2_sparse",
                                "D09_kws_dscnn_qdq_int8", "D10_mnist8_cnn_float_gold")]
    for m in fuzz.MUTATORS:
        applied = 0
        for seed in seeds:
            for r in range(3):
                model = seed.model()
                what = m.fn(model, np.random.default_rng([r, fuzz._seed_key(seed)]))
                if what:
                    onnx.ModelProto.FromString(model.SerializeToString())
                    assert fuzz.message_problem(what) is None, (m.name, what)
                    applied += 1
        assert applied, f"mutator {m.name} applies to none of the dev models"


def test_a_case_id_rebuilds_the_same_case():
    seeds = [_seed(n) for n in SHORT_RUN_SEEDS]
    for k in range(20):
        a = fuzz.build_case(seeds[k % 3], 7, k)
        b = fuzz.case_from_id(a.id, seeds)
        assert (a.model, a.mutations, a.target, a.data_seed) == (b.model, b.mutations, b.target, b.data_seed)
        assert 1 <= len(a.mutations) <= 3


def test_seeds_pass_the_checker_with_their_quirks_repaired(tmp_path):
    for name in ("D05_jet_mlp_qonnx_w6a6", "D06_tfc_binary_w1a1", "D12_jet_mlp_qdq_int8_generated"):
        path = tmp_path / f"{name}.onnx"
        path.write_bytes(_seed(name).model().SerializeToString())
        assert fuzz.checker_message(path) is None, name


# ---- a short seeded run ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    seeds = [_seed(n) for n in SHORT_RUN_SEEDS]
    return fuzz.fuzz(seeds, count=40, run_seed=0, budget=25, jobs=2, timeout=30,
                     out=tmp_path_factory.mktemp("fuzz"), log=lambda line: None)


def test_short_run_classifies_every_case_and_saves_the_failures(short_run):
    assert not short_run.excluded, short_run.excluded  # the unmutated seeds compile and match
    assert all(r["sub"] == "ok" for r in short_run.baseline)
    assert len(short_run.cases) >= 10
    assert {r["status"] for r in short_run.cases} <= set(fuzz.CLASSES)
    doc = json.loads((short_run.out / "results.json").read_text())
    assert len(doc["cases"]) == len(short_run.cases)
    for r in short_run.cases:
        assert (short_run.out / "cases" / f"{r['id']}.onnx").is_file() == (r["status"] in fuzz.FAILURES)
    assert f"{len(short_run.cases)} cases run" in fuzz.report(short_run)


def test_short_run_finds_only_ok_and_refused(short_run):
    bad = [f"{r['id']} {r['status']}: {r['detail']}" for r in short_run.cases if r["status"] not in ("ok", "refused")]
    assert not bad, "\n".join(bad)
