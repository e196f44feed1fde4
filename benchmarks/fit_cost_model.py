#!/usr/bin/env python3
"""Fit the cost-model coefficients (hw_models/coefficients.toml) on ground-truth synthesis reports.

    python benchmarks/fit_cost_model.py                       # fit on ../shared/groundtruth/*.jsonl, write the toml
    python benchmarks/fit_cost_model.py FILE.jsonl ... --dry-run   # print the fitted values only
    python benchmarks/fit_cost_model.py --lofo                 # also print leave-one-family-out errors

Every row is built and estimated by compiler.validation (groundtruth.py: hls4ml rows; finn.py: FINN
rows, compiled by compile_model at their folding) with the compiler's own formulas (the ops'
cost(), compiler/cost/hardware.py); only coefficient values change here.
The fit always starts from PRIOR (hand-set, physically motivated values; never from the
file's current numbers), so it is reproducible and a leave-one-family-out refit sees nothing
of the family it leaves out.

Method (per FPGA fabric that has rows; fabrics without rows take the fabric-neutral values):
  1. stage factors synth_*_factor = geometric mean of (Vivado synthesis / HLS estimate) over
     designs measured at both stages (the SVHN network); the prior (LUT 0.5, others 1) otherwise;
  2. discrete choices (multiplier LUT/DSP threshold, DSP leftover bits, the share of constant
     products HLS keeps on DSPs, LUTRAM/BRAM thresholds, pipeline-depth coefficients) by
     coordinate search on a robust loss (sum of |log(predicted/measured)|);
  3. the continuous LUT and FF coefficients by robust least squares in log space
     (scipy least_squares, soft-L1 loss) with a weak log-normal prior toward PRIOR, so a
     coefficient the data cannot identify stays at its physical default instead of drifting;
  4. per HLS tool family (Vivado HLS / Vitis HLS), overrides of the stream-interface
     coefficients, fitted on that family's stream rows with a strong prior toward the base.
Comparisons are weighted 1/sqrt(rows of their family and metric) so that a family of many
near-identical rows (30 wa-hls4ml nets of 3 shapes) does not outvote the others.
Low-confidence rows (spec_confidence 'low') and designs qcompile does not emit are not fitted on.
Values are floored like the error table (groundtruth.FLOORS) before the log ratio.
"""
from __future__ import annotations

import argparse
import copy
import math
import re
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from compiler.validation import groundtruth as gt  # noqa: E402
from compiler.resources import data_dir  # noqa: E402

DEFAULT_FILES = ("kernels.jsonl", "networks.jsonl", "wa_hls4ml_dense.jsonl", "finn_synth.jsonl")

# Physically motivated starting values (HLS-estimate units). Keys not listed keep the file's value.
PRIOR = {
    "lut_mult_max_product": 100, "lut_per_mult_bit2": 0.55, "dsp_lut_leftover_bits": 8, "dsp_const_share": 1.0,
    "lut_per_adder_bit": 1.0, "lut_per_out_bit": 0.5, "lut_per_select_bit": 1.0,
    "lut_per_fold_acc_bit": 2.0, "lut_per_mux_bit": 0.3, "lut_per_wide_in_bit": 1.0, "lut_per_signed_lane_bit": 1.0, "lut_per_xnor_lane": 1.0,
    "lut_per_compare_bit": 0.5, "const_compare_share": 0.5, "lut_per_swg_counter_bit": 3.0, "lut_mac_fixed": 20.0,
    "lut_per_stream_bit": 0.5, "lut_per_stream_stage": 20.0, "lut_per_rom_bit": 0.02, "lut_fixed": 20.0,
    "ff_per_mac_bit": 0.25, "ff_per_fold_acc_bit": 2.0, "ff_per_lane_bit": 0.5, "ff_per_in_reg_bit": 2.0, "ff_per_reg_bit": 1.0,
    "ff_per_lut_mult_bit": 0.5, "ff_per_stream_bit": 0.1, "ff_per_stream_stage": 20.0, "ff_fixed": 20.0,
    "ff_mac_fixed": 20.0,
    "lutram_max_bits": 1024, "bram_min_depth": 64,
    "mult_latency": 1, "adds_per_stage": 4, "stream_overhead_cycles": 1,
    "synth_lut_factor": 0.5, "synth_ff_factor": 1.0, "synth_dsp_factor": 1.0, "synth_bram_factor": 1.0,
}
# Fitted continuous coefficients. Coefficients no row can identify stay at PRIOR: plain
# multiplexers (lut_per_mux_bit: converters, pooling accumulators), LUT-multiplier registers
# (ff_per_lut_mult_bit), softmax/requantizer registers (ff_per_reg_bit: one softmax).
LUT_KEYS = ("lut_per_adder_bit", "lut_per_out_bit", "lut_per_select_bit", "lut_per_fold_acc_bit",
            "lut_per_wide_in_bit", "lut_per_mult_bit2", "lut_per_signed_lane_bit", "lut_per_xnor_lane", "lut_per_compare_bit",
            "lut_mac_fixed", "lut_per_stream_bit", "lut_per_stream_stage", "lut_fixed")
FF_KEYS = ("ff_per_mac_bit", "ff_per_fold_acc_bit", "ff_per_lane_bit", "ff_per_in_reg_bit", "ff_per_stream_bit",
           "ff_per_stream_stage", "ff_fixed", "ff_mac_fixed")
GRID = {  # key: (candidates, metrics it moves)
    "lut_mult_max_product": ((64, 80, 96, 100, 112, 127, 144, 160, 192), ("dsp", "lut", "ff")),
    "dsp_lut_leftover_bits": ((0, 2, 4, 6, 8, 10, 12), ("dsp", "lut")),
    "dsp_const_share": ((0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0), ("dsp", "lut")),
    "lutram_max_bits": ((128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768), ("bram_18k", "lut")),
    "bram_min_depth": ((1, 8, 16, 24, 32, 48, 64, 128), ("bram_18k", "lut")),
    "mult_latency": ((0, 1, 2, 3), ("latency",)),
    "adds_per_stage": ((1, 2, 3, 4, 6, 8), ("latency",)),
    "stream_overhead_cycles": ((0, 1, 2, 3, 4, 5, 6, 8), ("latency", "ii")),
}
INT_KEYS = {"lut_mult_max_product", "dsp_lut_leftover_bits", "lutram_max_bits", "bram_min_depth", "mult_latency",
            "adds_per_stage", "stream_overhead_cycles", "dsp_a_width", "dsp_b_width", "bram_width", "bram_depth",
            "max_unroll"}
TOOL_KEYS = ("stream_overhead_cycles", "lut_per_stream_stage", "ff_per_stream_stage")
# fabric-neutral keys (HLS behaviour, LUT6 logic): fabrics without rows take the fitted values;
# pipeline timing (levels per cycle, multiplier latency) stays fabric-specific
NEUTRAL = set(PRIOR) - {"mult_latency", "adds_per_stage"}
MIN_ROWS_PER_FABRIC = 10   # fewer rows: the fabric takes the fabric-neutral values of the best-covered one
PRIOR_WEIGHT = 0.15     # log-normal prior strength (per coefficient, vs. ~1 per family of residuals)
TOOL_PRIOR_WEIGHT = 1.0
COMMENTS = {
    "dsp_lut_leftover_bits": "operand bits beyond whole DSP ports that HLS adds in LUTs instead of another slice",
    "dsp_const_share": "share of DSP-sized constant products (unrolled layers) HLS keeps on DSPs; the rest shift-and-add",
    "lut_per_out_bit": "LUTs per output bit of a MAC array (final cast; x2 with a fused ReLU)",
    "lut_per_select_bit": "LUTs per output bit of an element-wise select/cast (ReLU)",
    "lut_per_fold_acc_bit": "folded MAC array: LUTs per accumulator bit (adder, per-cycle accumulator selection)",
    "lut_per_mux_bit": "LUTs per input bit of a multiplexer input beyond the first (converters, pooling accumulators)",
    "lut_per_wide_in_bit": "MAC array: LUTs per bit of a wide input beat sliced into SIMD lanes, per extra slice",
    "lut_per_signed_lane_bit": "folded multiplier-free lane: LUTs per bit of its x / -x / 0 select",
    "lut_per_xnor_lane": "folded XNOR lane: LUTs (one XNOR)",
    "lut_per_compare_bit": "thresholds: LUTs per input bit of one comparator against a stored threshold",
    "lut_mac_fixed": "MAC array: control logic (counters, ROM addressing)",
    "ff_mac_fixed": "MAC array: control registers",
    "ff_per_lane_bit": "folded MAC array: FFs per operand bit of a lane (x and w registered after the reads)",
    "ff_per_in_reg_bit": "MAC array: FFs per bit of a whole input vector held in registers (copies along the pipeline)",
    "lut_per_stream_stage": "LUTs of one stage's stream handshakes and start/done control",
    "ff_per_mac_bit": "unrolled MAC array: pipeline FFs per product per accumulator bit",
    "ff_per_fold_acc_bit": "folded MAC array: FFs per accumulator bit",
    "ff_per_reg_bit": "FFs per bit of an explicitly registered value (softmax, requantizer)",
    "ff_per_lut_mult_bit": "FFs per operand bit of a LUT multiplier",
    "ff_per_stream_bit": "FFs per bit written to an output stream",
    "ff_per_stream_stage": "FFs of one stage's stream handshakes and start/done control",
    "synth_lut_factor": "Vivado synthesis / HLS estimate, LUTs (fitted on designs measured at both stages)",
    "synth_ff_factor": "Vivado synthesis / HLS estimate, FFs",
    "synth_dsp_factor": "Vivado synthesis / HLS estimate, DSPs",
    "synth_bram_factor": "Vivado synthesis / HLS estimate, BRAM_18K",
}


# ---- objective ------------------------------------------------------------------------------

def _fit_set(prepared, exclude=()):
    """Prepared rows the fit may use: built, not low-confidence, not excluded by family."""
    out = []
    for p in prepared:
        if p.design is None or p.mismatched:
            continue
        if str(p.row.get("spec_confidence", "")).lower() == "low" or p.design.family in exclude:
            continue
        out.append(p)
    return out


def _fabric_of(p) -> str:
    return p.design.target.fabric


def _residuals(comps, metrics, tool=None):
    """Weighted log-ratio residuals (floored values) over the comparisons that measured each metric."""
    res, wts = [], []
    for metric in metrics:
        sel = [c for c in comps if c.measured.get(metric) is not None and (tool is None or c.tool == tool)]
        counts: dict[str, int] = {}
        for c in sel:
            counts[c.family] = counts.get(c.family, 0) + 1
        for c in sel:
            res.append(math.log(c.ratio(metric)))
            wts.append(1.0 / math.sqrt(counts[c.family]))
    return np.array(res), np.array(wts)


_FABRICS: dict = {}   # the fabrics' own tables while a shared table is fitted (fit())


def _evaluate(prepared, table):
    """Comparisons with `table`: shared keys from it, the rest from each row's own fabric."""
    if not _FABRICS:
        return gt.evaluate_prepared(prepared, table).comparisons

    def per_fabric(fabric):
        t = copy.deepcopy(_FABRICS.get(fabric, table))
        t.update({k: v for k, v in table.items() if k in NEUTRAL})
        if "tools" in table:
            t["tools"] = table["tools"]
        if fabric in _FABRICS and table is _FABRICS.get(fabric):
            return table
        return t

    return gt.evaluate_prepared(prepared, per_fabric).comparisons


def _loss(prepared, table, metrics, tool=None) -> float:
    r, w = _residuals(_evaluate(prepared, table), metrics, tool)
    return float(np.sum(w * np.abs(r)))


def _stage_factors(comps) -> dict:
    """Geometric mean of synth/HLS measured ratios over designs measured at both stages."""
    by_id = {c.id: c for c in comps}
    ratios: dict[str, list[float]] = {k: [] for k in ("lut", "ff", "dsp", "bram_18k")}
    for c in comps:
        if not c.id.endswith("@synth"):
            continue
        base = by_id.get(c.id[:-len("@synth")])
        if base is None or base.stage != "hls":
            continue
        for k in ratios:
            m_s, m_h = c.measured.get(k), base.measured.get(k)
            if m_s and m_h:
                ratios[k].append(m_s / m_h)
    keys = {"lut": "synth_lut_factor", "ff": "synth_ff_factor", "dsp": "synth_dsp_factor", "bram_18k": "synth_bram_factor"}
    return {keys[k]: float(np.exp(np.mean(np.log(v)))) for k, v in ratios.items() if v}


def _grid(prepared, table, key, candidates, metrics, tool=None, log=None, prior=None):
    """The candidate with the least loss; ties (the data cannot tell them apart) go to the
    candidate closest to the prior, in log terms."""
    losses = []
    for v in candidates:
        t = dict(table)
        t[key] = v
        losses.append(_loss(prepared, t, metrics, tool))
    best = min(losses)
    p0 = float((prior or PRIOR).get(key, table.get(key, candidates[0])))
    tied = [v for v, l in zip(candidates, losses) if l <= best + 1e-6 * max(1.0, abs(best))]
    best_v = min(tied, key=lambda v: abs(math.log(max(float(v), 1e-3) / max(p0, 1e-3))))
    table[key] = best_v
    if log:
        log(f"    {key} = {best_v}  (loss {best:.3f}; {len(tied)} tied)")
    return table


def _continuous(prepared, table, keys, metrics, prior, prior_weight, tool=None, tools_slot=None, log=None):
    from scipy.optimize import least_squares

    keys = list(keys)
    x0 = np.log(np.array([max(float(prior[k]), 1e-6) for k in keys]))
    start = np.log(np.array([max(float(table.get(k, prior[k])), 1e-6) for k in keys]))

    def apply(x):
        t = copy.deepcopy(table)
        dest = t if tools_slot is None else t.setdefault("tools", {}).setdefault(tools_slot, {})
        for k, v in zip(keys, np.exp(x)):
            dest[k] = float(v)
        return t

    def fun(x):
        r, w = _residuals(_evaluate(prepared, apply(x)), metrics, tool)
        return np.concatenate([w * r, prior_weight * (x - x0)])

    sol = least_squares(fun, start, loss="soft_l1", f_scale=0.3, max_nfev=60 * len(keys), diff_step=0.05,
                        bounds=(np.log(1e-4), np.log(1e5)))
    t = apply(sol.x)
    if log:
        dest = t if tools_slot is None else t["tools"][tools_slot]
        log("    " + ", ".join(f"{k}={dest[k]:.4g}" for k in keys) + f"  (cost {sol.cost:.3f}, {sol.nfev} evals)")
    return t


def fit_fabric(prepared, table0: dict, log=None, rounds: int = 2) -> dict:
    """Fitted coefficient table (a copy of table0 with fitted values) for the rows of one fabric."""
    table = copy.deepcopy(table0)
    table.pop("tools", None)
    for k, v in PRIOR.items():
        table[k] = v
    comps = _evaluate(prepared, table)
    stage = _stage_factors(comps)
    table.update(stage)
    if log:
        log("  stage factors: " + (", ".join(f"{k}={v:.3f}" for k, v in stage.items()) or "none measured, prior kept"))
    prior = dict(table)
    for r in range(rounds):
        if log:
            log(f"  round {r + 1}: discrete choices")
        for key, (cands, metrics) in GRID.items():
            _grid(prepared, table, key, cands, metrics, log=log)
        if log:
            log(f"  round {r + 1}: LUT and FF coefficients")
        table = _continuous(prepared, table, LUT_KEYS, ("lut",), prior, PRIOR_WEIGHT, log=log)
        table = _continuous(prepared, table, FF_KEYS, ("ff",), prior, PRIOR_WEIGHT, log=log)
    # per tool family: the stream interface coefficients, on that family's stream rows only
    tools = {}
    for fam in sorted({p.design.tool_family for p in prepared}):
        rows = [p for p in prepared if p.design.tool_family == fam and p.design.io_type == "io_stream"]
        if not rows:
            continue
        if log:
            log(f"  tool family {fam}: {len(rows)} stream rows")
        t = copy.deepcopy(table)
        t["tools"] = {fam: {k: table[k] for k in TOOL_KEYS}}
        base_loss = _loss(rows, t, ("latency", "ii", "lut", "ff"), fam)
        sub = t["tools"][fam]
        best_c, best = sub["stream_overhead_cycles"], None
        for v in GRID["stream_overhead_cycles"][0]:
            sub["stream_overhead_cycles"] = v
            loss = _loss(rows, t, ("latency", "ii"), fam)
            if best is None or loss < best - 1e-9:
                best_c, best = v, loss
        sub["stream_overhead_cycles"] = best_c
        t = _continuous(rows, t, ("lut_per_stream_stage", "ff_per_stream_stage"), ("lut", "ff"),
                        {k: table[k] for k in TOOL_KEYS}, TOOL_PRIOR_WEIGHT, tool=fam, tools_slot=fam, log=log)
        new_loss = _loss(rows, t, ("latency", "ii", "lut", "ff"), fam)
        changed = {k: v for k, v in t["tools"][fam].items() if not math.isclose(float(v), float(table[k]), rel_tol=0.05)}
        if changed and new_loss < base_loss * 0.95:
            tools[fam] = changed
        if log:
            log(f"    loss {base_loss:.3f} -> {new_loss:.3f}; override: {tools.get(fam, 'none')}")
    if tools:
        table["tools"] = tools
    return table


def fit(prepared, tables: dict, exclude=(), log=None) -> dict:
    """{fabric: fitted table} for every fabric in `tables`. The LUT6-logic and HLS-behaviour
    coefficients (NEUTRAL) are fitted once on every usable row, whatever its fabric (the
    FINN rows on 7-series and the hls4ml rows on UltraScale+ describe the same LUT6 logic);
    each fabric keeps its own DSP shapes and pipeline timing, the latter refitted on its
    own rows where it has MIN_ROWS_PER_FABRIC of them."""
    usable = _fit_set(prepared, exclude)
    out = copy.deepcopy(tables)
    if not usable:
        return out
    counts = {}
    for p in usable:
        counts[_fabric_of(p)] = counts.get(_fabric_of(p), 0) + 1
    donor = max(counts, key=counts.get)
    if log:
        log("fabrics: " + ", ".join(f"{f} {n} rows" for f, n in sorted(counts.items())) + "; shared fit on all")
    _FABRICS.clear()
    _FABRICS.update(tables)
    shared = fit_fabric(usable, tables[donor], log=log)
    _FABRICS.clear()   # from here on a table is one fabric's own
    for fabric, table in out.items():
        for k, v in shared.items():   # the donor's key order: a stable file
            if k in NEUTRAL:
                table[k] = v
        if "tools" in shared:
            table["tools"] = copy.deepcopy(shared["tools"])
        else:
            table.pop("tools", None)
    for fabric, n in counts.items():  # pipeline timing per fabric, on its own rows
        if n < MIN_ROWS_PER_FABRIC:
            continue
        rows = [p for p in usable if _fabric_of(p) == fabric]
        if log:
            log(f"fabric {fabric}: pipeline timing on {n} rows")
        for key in ("mult_latency", "adds_per_stage"):
            _grid(rows, out[fabric], key, GRID[key][0], GRID[key][1], log=log, prior=tables[fabric])
    _FABRICS.clear()
    return out


# ---- leave one family out ------------------------------------------------------------------------

def lofo(prepared, tables, log=None) -> dict:
    """{family: error table on that family, with coefficients fitted without it}."""
    fams = sorted({p.design.family for p in prepared if p.design is not None and not p.mismatched})
    out = {}
    for fam in fams:
        t0 = time.time()
        fitted = fit(prepared, tables, exclude=(fam,))
        held = [p for p in prepared if p.design is not None and not p.mismatched and p.design.family == fam]
        comps = []
        for p in held:
            comps.extend(gt.compare_prepared(p, fitted[p.design.target.fabric]))
        out[fam] = gt.error_table(comps)
        if log:
            log(f"  left out {fam}: {len(held)} rows, refit in {time.time() - t0:.0f} s")
    return out


# ---- the toml file ----------------------------------------------------------------------------------

def _fmt(key, v) -> str:
    if key in INT_KEYS:
        return str(int(round(float(v))))
    if isinstance(v, bool):
        return "true" if v else "false"
    v = float(v)
    if v == 0:
        return "0.0"
    s = f"{v:.4g}"
    return s if any(ch in s for ch in ".e") else s + ".0"


def write_toml(path: Path, tables: dict, stamp: str) -> None:
    """Update coefficient values in place (comments and unknown keys kept), append new keys
    with a comment, and rewrite the [<fabric>.tools.<family>] override sections."""
    lines = path.read_text().splitlines()
    out, section, seen = [], None, {}
    sections = {}

    def flush_missing(sec):
        if sec in tables:
            for k, v in tables[sec].items():
                if k in ("tools",) or k in seen.get(sec, set()):
                    continue
                out.append(f"{k} = {_fmt(k, v)}" + (f"  # {COMMENTS[k]}" if k in COMMENTS else ""))
        if sec in tables and tables[sec].get("tools"):
            for fam, over in sorted(tables[sec]["tools"].items()):
                out.append("")
                out.append(f"[{sec}.tools.{fam}]  # overrides for designs synthesized with this HLS tool family")
                for k, v in over.items():
                    out.append(f"{k} = {_fmt(k, v)}")

    skipping = False
    for line in lines:
        m = re.match(r"^\[([^\]]+)\]", line.strip())
        if m:
            name = m.group(1)
            if section is not None and not skipping:
                while out and not out[-1].strip():
                    out.pop()
                flush_missing(section)
                out.append("")
            if ".tools." in name:          # regenerated from the fitted tables
                skipping = True
                section = name.split(".tools.")[0]
                continue
            skipping = False
            section = name
            sections[name] = True
            seen.setdefault(section, set())
            out.append(line)
            continue
        if skipping:
            continue
        if line.startswith("# Fitted by benchmarks/fit_cost_model.py"):
            continue
        km = re.match(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*)(\s*=\s*)([^#]*?)(\s*)(#.*)?$", line)
        if km and section in tables and km.group(2) in tables[section] and km.group(2) != "tools":
            key = km.group(2)
            seen[section].add(key)
            val = _fmt(key, tables[section][key])
            pad = km.group(5) or ""
            comment = km.group(6) or ""
            old = km.group(4)
            if comment:
                pad = " " * max(1, len(old) + len(pad) - len(val))
            out.append(f"{km.group(1)}{key}{km.group(3)}{val}{pad}{comment}".rstrip())
            continue
        out.append(line)
    if section is not None and not skipping:
        while out and not out[-1].strip():
            out.pop()
        flush_missing(section)
    # a stamp after the header comment
    for i, line in enumerate(out):
        if not line.startswith("#"):
            out.insert(i, f"# Fitted by benchmarks/fit_cost_model.py on {stamp}.")
            break
    path.write_text("\n".join(out).rstrip() + "\n")


def load_tables(path: Path) -> dict:
    import tomllib

    return tomllib.loads(path.read_text())


def default_files() -> list[Path]:
    sys.path.insert(0, str(REPO / "tests"))
    for cand in (REPO.parent / "shared", Path("/work/shared")):
        if (cand / "groundtruth").is_dir():
            return [cand / "groundtruth" / f for f in DEFAULT_FILES if (cand / "groundtruth" / f).is_file()]
    return []


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", help="ground-truth JSONL files (default: ../shared/groundtruth/*.jsonl)")
    ap.add_argument("--dry-run", action="store_true", help="print the fitted values, do not write the toml")
    ap.add_argument("--lofo", action="store_true", help="also report leave-one-family-out errors")
    ap.add_argument("--toml", default=str(data_dir("hw_models") / "coefficients.toml"))
    args = ap.parse_args(argv)
    files = [Path(f) for f in args.files] or default_files()
    if not files:
        print("no ground-truth files found; pass them explicitly", file=sys.stderr)
        return 2

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    path = Path(args.toml)
    tables = load_tables(path)
    prepared = gt.prepare(gt.load_rows(files))
    t0 = time.time()
    fitted = fit(prepared, tables, log=log)
    log(f"fitted in {time.time() - t0:.0f} s")
    before = gt.error_table(gt.evaluate_prepared(prepared).comparisons)
    after_comps = []
    for p in prepared:
        if p.design is not None:
            after_comps.extend(gt.compare_prepared(p, fitted[p.design.target.fabric]))
    after = gt.error_table(after_comps)
    print(f"{'metric':10s} {'median APE before':>18s} {'after':>8s}")
    for k in gt.METRICS:
        b, a = before[k]["median_ape"], after[k]["median_ape"]
        print(f"{k:10s} {b if b is not None else float('nan'):18.1f} {a if a is not None else float('nan'):8.1f}")
    if not args.dry_run:
        write_toml(path, fitted, time.strftime("%Y-%m-%d"))
        print(f"wrote {path}")
    else:
        for fab, t in fitted.items():
            print(f"[{fab}]")
            for k, v in t.items():
                print(f"  {k} = {v}")
    if args.lofo:
        res = lofo(prepared, fitted if args.dry_run else load_tables(path), log=log)
        for fam, table in res.items():
            print(fam, {k: (round(v["median_ape"], 1) if v["median_ape"] is not None else None, v["n"])
                        for k, v in table.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
