"""Fit benchmark: the fastest design of every dev model within the default caps, per board, next to published figures.

For every dev model (../shared/models/dev/MANIFEST.json, read in place) and each of the boards
pynq-z2, ultra96v2 and zcu104: `compiler.compile_model(path, target, fit=True)` (the fastest design
within 80% of each resource), then `compiler.estimate(design)`: inferences/s, latency, LUT/FF/DSP/BRAM
share of the device, and the compile's wall time. Next to each row: FINN's and hls4ml's published
figures where the same or a comparable model was deployed (`REFERENCES` below, read from
../shared/groundtruth/finn_published.csv and published.csv).

D07 (the UNSW-NB15 MLP of FINN's cybersecurity example) gets a second row compiled as FINN deploys
it (inputs declared bipolar: `input_type='ap_fixed<2,2>'`), and a section against FINN's own
estimates of the same model (../shared/groundtruth/finn_estimates_d07.csv, xc7z020 @ 100 MHz): at
each of FINN's estimated frame rates, our cheapest design for that rate (`fps=F`) on pynq-z2, and
our maximum (`fit=True`) against FINN's largest estimate within the part.

Our numbers are the cost model's estimates (HLS C-synthesis terms), not synthesis results.

    python benchmarks/bench_fit.py                 # all models x 3 boards (~10-15 s)
    python benchmarks/bench_fit.py --quick         # pynq-z2, three models (smoke run)
    python benchmarks/bench_fit.py --json out.json # also write every number to a file
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import compiler  # noqa: E402
from compiler.cost.hardware import post_synthesis  # noqa: E402
from compiler.cost.target import load_target  # noqa: E402

TARGETS = ("pynq-z2", "ultra96v2", "zcu104")
QUICK_TARGETS = ("pynq-z2",)
QUICK_MODELS = ("D01_jet_mlp_float", "D07_unsw_mlp_w2a2_sparse", "D11_fp8_floatquant_gold")  # float, FINN's, refused
D07 = "D07_unsw_mlp_w2a2_sparse"
D07_BIPOLAR = {"input_type": "ap_fixed<2,2>"}  # FINN deploys D07 with its inputs declared bipolar (+-1)
FINN_PART_TARGET = "pynq-z2"                   # xc7z020clg400-1, the part of finn_estimates_d07.csv
FULL_CAPS = {k: 1.0 for k in ("lut", "ff", "dsp", "bram_18k", "uram")}
RES = ("lut", "ff", "dsp", "bram_18k")


def shared_dir() -> Path | None:
    """The shared folder, found as tests/conftest.py finds it."""
    for cand in (os.environ.get("QCOMPILE_SHARED"), ROOT.parent / "shared", "/work/shared"):
        if cand and (Path(cand) / "models" / "dev" / "MANIFEST.json").is_file():
            return Path(cand)
    return None


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- published figures --------------------------------------------------------------------------

@dataclass(frozen=True)
class Ref:
    file: str                      # in ../shared/groundtruth
    match: dict                    # column -> exact value selecting one row
    relation: str                  # "same model", "same network", "comparable", "same task, different network"
    why: str
    targets: tuple | None = None   # show next to these boards only (None: every board)
    variant: str | None = None     # "default" / "bipolar" row of D07 only (None: both)
    ratio: bool = True             # print ours / published (not for a different network)


# Which published figure sits next to which dev model. The figures themselves (and their board,
# part, clock, kind) are read from the CSV rows at run time; only the pairing is decided here.
REFERENCES: dict[str, list[Ref]] = {
    # D06 is the Brevitas/FINN TFC-W1A1 export from the qonnx model zoo (784-64-64-64-10, binary
    # weights and activations, BatchNorm): the network finn-examples deploys as TFC-W1A1. Its trained
    # weights may differ from finn-examples' build, which does not change the hardware's speed.
    "D06_tfc_binary_w1a1": [
        Ref("finn_published.csv", {"network": "TFC-W1A1 (3x64 MLP)"}, "same network",
            "finn-examples TFC-W1A1, PYNQ driver throughput_test (board not printed; I/O-DMA bound per the row's notes)"),
        # FINN's compute bound for the finn-examples folding: what FINN's own analysis gives.
        Ref("finn_published.csv", {"network": "TFC-W1A1", "board": "(analytical)"}, "same network",
            "FINN's analytical compute bound of the finn-examples folding (FINN estimate, not measured)"),
    ],
    # D07 is the qonnx-model-zoo export of the finn-examples cybersecurity MLP itself (UNSW-NB15,
    # 600-64-64-64-1, W2A2, bipolar output). FINN feeds it bipolar inputs: compare the "bipolar" row.
    D07: [
        Ref("finn_published.csv", {"network": "UNSW-NB15 MLP (cybersecurity)"}, "same model",
            "finn-examples cybersecurity MLP, bipolar inputs, built for 1M frames/s at 100 MHz"),
        # A fully unrolled W2A2 UNSW-NB15 MLP at line rate; whether it is exactly this network's
        # weights is not stated in our files, so it is "comparable", and only meaningful on the ZCU104.
        Ref("finn_published.csv", {"network": "UNSW-NB15 MLP (line-rate)"}, "comparable",
            "FINN line-rate UNSW-NB15 W2A2 MLP, fully unrolled, one classification per clock (vendor blog)",
            targets=("zcu104",)),
        # FINN's own analytic estimate of this very model on the same part (xc7z020): its largest
        # folding that fits. Shown next to the bipolar pynq-z2 row only (same part, same inputs).
        Ref("finn_estimates_d07.csv", {"notes": "largest estimate within the part"}, "same model",
            "FINN's own estimate (finn-plus estimate-only flow) of its largest folding within the xc7z020",
            targets=("pynq-z2",), variant="bipolar"),
    ],
    # MLPerf Tiny keyword spotting: the closed division's reference is a DS-CNN like D09, but the
    # only KWS entries in published.csv are FINN's open-division W3A3 MLP (through the MLPerf Tiny
    # harness, host/UART-limited). Same task and dataset, a much smaller network: context, no ratio.
    "D09_kws_dscnn_qdq_int8": [
        Ref("published.csv", {"model": "FINN KWS-W3A3", "part": "xc7z020clg400-1"}, "same task, different network",
            "MLPerf Tiny KWS entry: FINN 3-layer W3A3 MLP, not the DS-CNN; end-to-end through the harness",
            ratio=False),
        Ref("finn_published.csv", {"network": "KWS MLP"}, "same task, different network",
            "finn-examples KWS MLP W3A3 (throughput_test on the accelerator), not the DS-CNN", ratio=False),
    ],
    # The jet-tagging MLPs (D01, D02, D05, D12; hls4ml's classic 16-64-32-32-5 benchmark) have no
    # entry: published.csv's hls4ml rows are the SVHN tutorial CNN and MLPerf Tiny AD08/RN07, and
    # printing one of those would be a comparison with an unrelated network. SEARCH_HINTS re-checks
    # the files at run time, so an entry added later is noticed.
    "D01_jet_mlp_float": [],
    "D02_jet_mlp_bn_float": [],
    "D05_jet_mlp_qonnx_w6a6": [],
    "D12_jet_mlp_qdq_int8_generated": [],
}
# Models without a reference: the word whose absence from both CSVs the legend states.
SEARCH_HINTS = {"D01_jet_mlp_float": "jet", "D02_jet_mlp_bn_float": "jet", "D05_jet_mlp_qonnx_w6a6": "jet",
                "D12_jet_mlp_qdq_int8_generated": "jet", "D09_kws_dscnn_qdq_int8": "ds-cnn"}


def _num(text) -> float | None:
    """The leading number of a CSV cell ('926918', '7086 (tool estimate)', '99.999'), else None."""
    if text is None:
        return None
    s = str(text).strip().replace(",", "")
    out = ""
    for ch in s:
        if ch.isdigit() or ch in ".eE+-" and out:
            out += ch
        elif out:
            break
    try:
        return float(out) if out else None
    except ValueError:
        return None


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def resolve_refs(gt: Path) -> tuple[dict[str, list[dict]], dict]:
    """REFERENCES with their rows read from the files: {model: [resolved ref]}, and the files."""
    files = {name: read_csv(gt / name) for name in ("finn_published.csv", "published.csv", "finn_estimates_d07.csv")
             if (gt / name).is_file()}
    out: dict[str, list[dict]] = {}
    tag = 0
    for model, refs in REFERENCES.items():
        out[model] = []
        for ref in refs:
            tag += 1
            rows = [r for r in files.get(ref.file, [])
                    if all((r.get(k) or "").strip() == v for k, v in ref.match.items())]
            d = {"tag": f"P{tag}", "file": ref.file, "match": ref.match, "relation": ref.relation, "why": ref.why,
                 "targets": ref.targets, "variant": ref.variant, "ratio": ref.ratio}
            if len(rows) != 1:
                d["missing"] = f"{len(rows)} rows of {ref.file} match {ref.match}"
            else:
                r = rows[0]
                if ref.file == "finn_estimates_d07.csv":
                    d.update(name=f"FINN estimate of {r['model']} at PE/SIMD {r['folding_pe_simd_per_layer']}",
                             fps=_num(r["est_fps"]), fps_text=r["est_fps"], board=f"part {r['part']}",
                             clock_mhz=_num(r["clock_MHz"]), kind=r["kind"] + " (FINN's estimate, not measured)",
                             lut=_num(r["est_LUT"]), bram_18k=_num(r["est_BRAM_18K"]), dsp=_num(r["est_DSP"]),
                             source=f"{r['tool']}")
                elif ref.file == "finn_published.csv":
                    d.update(name=f"{r['network']} {r['quantization']}", fps=_num(r["throughput_fps"]),
                             fps_text=r["throughput_fps"],
                             board=(r["board"] or "?") + (f", part {r['fpga_part']}" if r["fpga_part"] else ""),
                             clock_mhz=_num(r["clock_MHz"]), kind=r["kind"], source=r["source"], notes=r["notes"])
                else:
                    d.update(name=f"{r['model']} W{r['weight_bits']}A{r['act_bits']}", fps=_num(r["fps"]),
                             fps_text=r["fps"], board=f"part {r['part'] or '?'}", clock_mhz=_num(r["clock_MHz"]),
                             kind=r["stage"], source=r["source"], notes=r["notes"])
            out[model].append(d)
    return out, files


def hint_hits(files: dict, word: str) -> list[str]:
    """Rows of finn_published.csv / published.csv mentioning `word` (case-insensitive)."""
    hits = []
    for name in ("finn_published.csv", "published.csv"):
        for r in files.get(name, []):
            if any(word in (v or "").lower() for v in r.values()):
                hits.append(f"{name}: {r.get('network') or r.get('model')}")
    return hits


# ---- compiling ----------------------------------------------------------------------------------

def compile_one(path: Path, target: str, **kw) -> dict:
    """compile_model + estimate; a refusal (CompileError) is kept as its one-line message."""
    t0 = time.perf_counter()
    try:
        design = compiler.compile_model(path, target, **kw)
    except compiler.CompileError as e:
        return {"error": str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__,
                "error_type": type(e).__name__, "compile_s": time.perf_counter() - t0}
    except Exception as e:  # a compiler bug: still one line, the benchmark goes on
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return {"error": f"internal error {type(e).__name__}: {first}", "error_type": "internal",
                "compile_s": time.perf_counter() - t0}
    compile_s = time.perf_counter() - t0
    cost = compiler.estimate(design)
    in_bits = None
    try:  # the input stream's bits per inference (the host sends the codes of this type)
        t = design.graph.tensors[design.graph.inputs[0]]
        in_bits = int(math.prod(t.shape)) * int(t.type.width)
    except Exception:
        pass
    util = cost.utilization
    totals = {k: float(v) for k, v in cost.totals.items()}
    return {"compile_s": compile_s, "fits": bool(cost.fits),
            "within_caps": all(util[k] is None or util[k] <= 80.0 + 1e-9 for k in util),
            "throughput_per_s": cost.throughput, "latency_us": cost.latency_us, "ii_cycles": cost.ii,
            "latency_cycles": cost.latency, "clock_mhz": cost.clock_mhz, "part": design.target.part,
            "utilization_pct": {k: util[k] for k in util}, "resources": totals,
            "available": dict(cost.available), "resources_post_synth": post_synthesis(design.target, totals),
            "bottleneck": cost.bottleneck, "fold": design.options.get("fold"),
            "input_bits_per_inference": in_bits,
            "input_gbytes_per_s": None if in_bits is None else in_bits * cost.throughput / 8e9}


def published_for(refs: list[dict], target: str, variant: str, ours: dict) -> list[dict]:
    shown = []
    for ref in refs:
        if ref["targets"] and target not in ref["targets"]:
            continue
        if ref["variant"] and ref["variant"] != variant:
            continue
        e = {"tag": ref["tag"]}
        if "missing" not in ref and ref.get("fps") and ref["ratio"] and "throughput_per_s" in ours:
            e["ours_over_published"] = ours["throughput_per_s"] / ref["fps"]
        shown.append(e)
    return shown


def bench_rows(models: list[tuple[str, Path]], targets, refs: dict) -> list[dict]:
    rows = []
    for name, path in models:
        variants = [("default", {})] + ([("bipolar", D07_BIPOLAR)] if name == D07 else [])
        for target in targets:
            for variant, extra in variants:
                if not path.is_file():
                    r = {"error": f"{path}: no such file", "error_type": "missing"}
                else:
                    r = compile_one(path, target, fit=True, **extra)
                r.update(model=name, target=target, variant=variant, options={"fit": True, **extra})
                r["published"] = published_for(refs.get(name, []), target, variant, r)
                rows.append(r)
                what = r["error"] if "error" in r else f"{r['throughput_per_s']:,.0f}/s"
                log(f"{name}{' (bipolar)' if variant == 'bipolar' else ''} on {target}: {what} "
                    f"({r.get('compile_s', 0):.2f} s)")
    return rows


def bench_finn(path: Path, gt: Path) -> dict:
    """D07 bipolar on pynq-z2 at each of FINN's estimated rates, and both maxima."""
    est_file = gt / "finn_estimates_d07.csv"
    out: dict = {"model": D07, "target": FINN_PART_TARGET, "options": D07_BIPOLAR, "file": str(est_file)}
    if not est_file.is_file() or not path.is_file():
        out["skipped"] = f"{est_file if not est_file.is_file() else path}: no such file"
        return out
    finn = sorted(read_csv(est_file), key=lambda r: (_num(r["est_fps"]) or 0, _num(r["est_LUT"]) or 0))
    points = []
    for r in finn:
        f = {"folding": r["folding_pe_simd_per_layer"], "target_fps": _num(r["target_fps"]),
             "mvau_wwidth_max": r["mvau_wwidth_max"], "est_fps": _num(r["est_fps"]), "lut": _num(r["est_LUT"]),
             "bram_18k": _num(r["est_BRAM_18K"]), "dsp": _num(r["est_DSP"]), "notes": r["notes"],
             "part": r["part"], "clock_mhz": _num(r["clock_MHz"]), "tool": r["tool"]}
        ours = compile_one(path, FINN_PART_TARGET, fps=f["est_fps"], **D07_BIPOLAR)
        points.append({"finn": f, "ours": ours})
        log(f"D07 bipolar at FINN's {f['est_fps']:,.0f}/s: "
            + (ours["error"] if "error" in ours else
               f"{ours['throughput_per_s']:,.0f}/s, LUT {ours['resources']['lut']:,.0f}"))
    out["points"] = points
    out["ours_fit"] = compile_one(path, FINN_PART_TARGET, fit=True, **D07_BIPOLAR)
    out["ours_fit_full_part"] = compile_one(path, FINN_PART_TARGET, fit=True, caps=FULL_CAPS, **D07_BIPOLAR)
    avail = out["ours_fit"].get("available") or {}
    out["part_resources"] = avail
    within = [p["finn"] for p in points
              if avail and p["finn"]["lut"] <= avail["lut"] and p["finn"]["bram_18k"] <= avail["bram_18k"]
              and p["finn"]["dsp"] <= avail["dsp"]]
    out["finn_max_within_part"] = max(within, key=lambda f: f["est_fps"]) if within else None
    # A design of ours that is at least as fast and uses fewer LUTs than what fps=F chose: the
    # folding's "cheapest design for F" was not the cheapest (recorded, not corrected).
    full = out["ours_fit_full_part"]
    for p in points:
        o = p["ours"]
        p["cheaper_faster_design_exists"] = bool("error" not in o and "error" not in full and
                                                 full["throughput_per_s"] >= o["throughput_per_s"] and
                                                 full["resources"]["lut"] < o["resources"]["lut"])
    out["finn_vivado"] = finn_vivado_anchor(gt / "finn_synth.jsonl")
    return out


def finn_vivado_anchor(path: Path) -> list[dict]:
    """FINN's own LUT estimate next to Vivado's routed LUTs for this network (finn_synth.jsonl,
    whole-network rows): how far FINN's estimate is from synthesis, to read its LUTs by."""
    if not path.is_file():
        return []
    groups: dict[str, dict] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        est = (r.get("finn_estimate_not_measured") or {}).get("total")
        if r.get("granularity") != "whole_network_stitched_ip" or not est or "LUT" not in r.get("measured", {}):
            continue
        fold = ";".join(f"{x.get('PE')}/{x.get('SIMD')}" for x in r["layers"])
        g = groups.setdefault(fold, {"folding": fold, "finn_est_lut": est["LUT"], "routed_lut": [], "ids": []})
        g["routed_lut"].append(r["measured"]["LUT"])
        g["ids"].append(r["id"])
    return list(groups.values())


# ---- output -------------------------------------------------------------------------------------

def _pct(v) -> str:
    return "-" if v is None else f"{v:.1f}"


def _gbs(v) -> str:
    return "-" if v is None else (f"{v:.2f}" if v < 10 else f"{v:.0f}")


def _rate(v) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _ref_cell(shown: list[dict], refs_by_tag: dict) -> str:
    parts = []
    for e in shown:
        ref = refs_by_tag[e["tag"]]
        if "missing" in ref:
            parts.append(f"[{e['tag']}] (row not found)")
            continue
        fig = _rate(ref["fps"]) + "/s" if ref.get("fps") else ref.get("fps_text", "?")
        ratio = f" (ours {e['ours_over_published']:.2f}x)" if "ours_over_published" in e else ""
        parts.append(f"[{e['tag']}] {fig}{ratio}")
    return "; ".join(parts)


def print_table(doc: dict) -> None:
    m = doc["meta"]
    print(f"qcompile fit benchmark ({'quick' if m['quick'] else 'full'}) - python {m['python']}, "
          f"{m['cpus']} CPU(s), {m['machine']}")
    print(f"models: {m['models_dir']}   published figures: {m['groundtruth_dir']}")
    print("Our numbers are qcompile's cost-model ESTIMATES (HLS C-synthesis terms; no synthesis was run) of")
    print("compile_model(MODEL, TARGET, fit=True): the fastest design within 80% of each resource. Published")
    print("figures are MEASURED ON BOARD unless the legend marks them as FINN's estimate; [Pn] refers to the legend.")
    print("Compile time: wall time of compile_model alone (after one untimed warm-up compile).")
    print()
    for t, info in doc["targets"].items():
        print(f"  {t}: {info['part']} @ {info['clock_mhz']:g} MHz; LUT {info['available']['lut']:,}, "
              f"FF {info['available']['ff']:,}, DSP {info['available']['dsp']:,}, BRAM_18K {info['available']['bram_18k']:,}"
              + (f"; DDR peak {info['ddr_gbps']:g} GB/s (board file, computed)" if info.get("ddr_gbps") else ""))
    print()
    refs_by_tag = {r["tag"]: r for refs in doc["references"].values() for r in refs}
    hdr = (f"{'model':<35} {'target':<10} {'fits':<5} {'inferences/s':>13} {'latency us':>10} {'LUT%':>5} {'FF%':>5} "
           f"{'DSP%':>5} {'BRAM%':>5} {'in GB/s':>7} {'compile s':>9}  published")
    print(hdr)
    print("-" * len(hdr))
    for r in doc["rows"]:
        label = r["model"] + (" bipolar-in" if r["variant"] == "bipolar" else "")
        if "error" in r:
            print(f"{label:<35} {r['target']:<10} refused: {r['error']}")
            continue
        u = r["utilization_pct"]
        fits = "yes" if r["fits"] and r["within_caps"] else ("part" if r["fits"] else "NO")
        print(f"{label:<35} {r['target']:<10} {fits:<5} {_rate(r['throughput_per_s']):>13} {r['latency_us']:>10.2f} "
              f"{_pct(u['lut']):>5} {_pct(u['ff']):>5} {_pct(u['dsp']):>5} {_pct(u['bram_18k']):>5} "
              f"{_gbs(r.get('input_gbytes_per_s')):>7} "
              f"{r['compile_s']:>9.3f}  {_ref_cell(r['published'], refs_by_tag)}")
    print("(fits: yes = within the 80% caps; part = within the device but above a cap; NO = exceeds the device.")
    print(" 'bipolar-in': D07 compiled as FINN deploys it, input_type='ap_fixed<2,2>'. ratio = our estimate / published.")
    print(" in GB/s: the input stream the estimated rate implies (input codes' bits x inferences/s); the estimate")
    print(" assumes the host delivers it: compare with the board's DDR peak above. Published on-board figures include I/O.)")
    print()
    print("Published figures:")
    for model, refs in doc["references"].items():
        for ref in refs:
            where = ""
            if ref["targets"]:
                where = f" (shown on {', '.join(ref['targets'])}" + (f", {ref['variant']} row" if ref["variant"] else "") + ")"
            if "missing" in ref:
                print(f"  [{ref['tag']}] {model[:3]}: {ref['missing']}")
                continue
            clock = f"{ref['clock_mhz']:g} MHz" if ref.get("clock_mhz") else "clock not stated"
            fig = f"{_rate(ref['fps'])}/s" if ref.get("fps") else "?"
            if ref.get("fps_text") and not re.fullmatch(r"[\d.,\s]+", ref["fps_text"]):
                fig += f" (as written: {ref['fps_text']!r})"
            print(f"  [{ref['tag']}] {model[:3]} - {ref['relation'].upper()}: {ref['name']}: {fig}; "
                  f"board: {ref['board']}; {clock}; {ref['kind']}{where}")
            print(f"        why: {ref['why']}.  source: {ref['file']}: {ref['source']}")
    for model, word in doc["unmapped_search"].items():
        hits = word["hits"]
        print(f"  {model[:3]}: no published figure (" + (f"rows mentioning {word['word']!r}: {', '.join(hits)}"
              if hits else f"no row of finn_published.csv / published.csv mentions {word['word']!r}") + ")")
    print()
    print_finn(doc.get("finn"))
    print()
    print(f"total benchmark time {m['total_s']:.1f} s")


def print_finn(f: dict | None) -> None:
    if not f:
        return
    print(f"D07 as FINN deploys it (bipolar inputs) on {f['target']}, against FINN's own estimates of the same model")
    if "skipped" in f:
        print(f"   skipped: {f['skipped']}")
        return
    fp = f["points"][0]["finn"] if f["points"] else {}
    print(f"   FINN: {fp.get('tool')}, {fp.get('part')} @ {fp.get('clock_mhz', 0):g} MHz, compute layers only (no FIFO/DWC/DMA),")
    print("   its analytic estimate, not synthesis. Ours: compile_model(D07, 'pynq-z2', input_type='ap_fixed<2,2>', fps=F),")
    print("   the cheapest design for at least F/s, estimated (HLS C-synthesis terms; '~synth' = x the fitted")
    print("   Vivado-synthesis factor, as FINN's estimates aim at Vivado results). ours/FINN: LUT ratio, BRAM difference.")
    hdr = (f"   {'FINN PE/SIMD per layer':<22} {'wwidth':>6} {'FINN fps':>10} {'LUT':>7} {'BRAM18':>6} {'DSP':>4} | {'our fps':>11} "
           f"{'LUT':>7} {'~synth':>7} {'FF':>6} {'BRAM18':>6} {'DSP':>4} | {'LUT ours/FINN':>13} {'BRAM ours-FINN':>14}")
    print(hdr)
    for p in f["points"]:
        a, o = p["finn"], p["ours"]
        left = (f"   {a['folding']:<22} {a['mvau_wwidth_max']:>6} {_rate(a['est_fps']):>10} {_rate(a['lut']):>7} "
                f"{_rate(a['bram_18k']):>6} {_rate(a['dsp']):>4} |")
        if "error" in o:
            print(f"{left} refused: {o['error']}")
            continue
        res, syn = o["resources"], o["resources_post_synth"]
        print(f"{left} {_rate(o['throughput_per_s']):>11} {_rate(res['lut']):>7} {_rate(syn['lut']):>7} {_rate(res['ff']):>6} "
              f"{_rate(res['bram_18k']):>6} {_rate(res['dsp']):>4} | {res['lut'] / a['lut']:>12.2f}x "
              f"{res['bram_18k'] - a['bram_18k']:>+14.0f}" + ("  *" if p.get("cheaper_faster_design_exists") else ""))
    if any(p.get("cheaper_faster_design_exists") for p in f["points"]):
        print("   * the caps-100% maximum below is at least as fast and uses fewer LUTs than this fps=F design:")
        print("     the folding did not return the cheapest design for that rate (reported, not corrected)")
    for g in f.get("finn_vivado") or []:
        lo, hi = min(g["routed_lut"]), max(g["routed_lut"])
        print(f"   context (finn_synth.jsonl): at PE/SIMD {g['folding']} FINN estimated {g['finn_est_lut']:,.0f} LUT; "
              f"Vivado routed {lo:,.0f}" + (f"-{hi:,.0f}" if hi != lo else "") + f" LUT ({len(g['routed_lut'])} FINN builds)")
    avail = f.get("part_resources") or {}
    print(f"   maximum within the part ({avail.get('lut', 0):,} LUT, {avail.get('bram_18k', 0):,} BRAM_18K, "
          f"{avail.get('dsp', 0):,} DSP):")
    mx = f.get("finn_max_within_part")
    if mx:
        print(f"   {'FINN largest estimate that fits':<40} {_rate(mx['est_fps']):>11}/s  LUT {_rate(mx['lut'])} "
              f"({100 * mx['lut'] / avail['lut']:.0f}%), BRAM18 {_rate(mx['bram_18k'])}, DSP {_rate(mx['dsp'])}  "
              f"(PE/SIMD {mx['folding']})")
    for key, label in (("ours_fit", "ours fit=True (80% caps)"), ("ours_fit_full_part", "ours fit=True, caps 100%")):
        o = f.get(key, {})
        if "error" in o:
            print(f"   {label:<40} refused: {o['error']}")
            continue
        res, u = o["resources"], o["utilization_pct"]
        ratio = f"  = {o['throughput_per_s'] / mx['est_fps']:.2f}x FINN's" if mx else ""
        print(f"   {label:<40} {_rate(o['throughput_per_s']):>11}/s  LUT {_rate(res['lut'])} ({u['lut']:.0f}%; ~synth "
              f"{_rate(o['resources_post_synth']['lut'])}), BRAM18 {_rate(res['bram_18k'])}, DSP {_rate(res['dsp'])}, "
              f"II {o['ii_cycles']}{ratio}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=None,
                    help="the shared folder (default: $QCOMPILE_SHARED, ../shared, /work/shared)")
    ap.add_argument("--quick", action="store_true", help=f"pynq-z2 and {', '.join(m[:3] for m in QUICK_MODELS)} only")
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write every number to FILE")
    args = ap.parse_args(argv)

    shared = args.shared or shared_dir()
    if shared is None or not (shared / "models" / "dev" / "MANIFEST.json").is_file():
        print("the shared dev models (../shared/models/dev/MANIFEST.json) are not available; set QCOMPILE_SHARED "
              "or pass --shared", file=sys.stderr)
        return 2
    models_dir, gt = (shared / "models" / "dev").resolve(), (shared / "groundtruth").resolve()
    manifest = json.loads((models_dir / "MANIFEST.json").read_text())
    models = [(m["name"], models_dir / m["name"] / "model.onnx") for m in manifest]
    targets = QUICK_TARGETS if args.quick else TARGETS
    if args.quick:
        models = [mp for mp in models if mp[0] in QUICK_MODELS]

    t_start = time.perf_counter()
    refs, files = resolve_refs(gt)
    doc: dict = {"meta": {"quick": args.quick, "models_dir": str(models_dir), "groundtruth_dir": str(gt),
                          "python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
                          "compiler_version": compiler.__version__, "targets": list(targets),
                          "note": "ours: cost-model estimates (HLS C-synthesis terms), not synthesis; published: "
                                  "measured on board unless kind says estimate"},
                 "references": refs,
                 "unmapped_search": {m: {"word": w, "hits": hint_hits(files, w)} for m, w in SEARCH_HINTS.items()
                                     if not refs.get(m) and any(m == n for n, _ in models)}}
    # Warm-up (imports, first-call caches), untimed, so the first row's compile time is not start-up.
    warm = next((p for _, p in models if p.is_file()), None)
    if warm is not None:
        compile_one(warm, targets[0], fit=True)
    doc["targets"] = {}
    for t in targets:
        tg = load_target(t)
        doc["targets"][t] = {"part": tg.part, "clock_mhz": tg.clock_mhz, "available": dict(tg.resources),
                             "board": tg.board, "ddr_gbps": tg.ddr_gbps}
    doc["rows"] = bench_rows(models, targets, refs)
    if any(n == D07 for n, _ in models):
        doc["finn"] = bench_finn(models_dir / D07 / "model.onnx", gt)
    doc["meta"]["total_s"] = time.perf_counter() - t_start

    print_table(doc)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1, default=str))
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
