#!/usr/bin/env python3
"""How far the cost model is from real synthesis reports.

    python benchmarks/groundtruth.py FILE.jsonl [FILE ...]        # error table, per family, unmodeled rows
    python benchmarks/groundtruth.py FILE.jsonl ... --json        # one JSON object on stdout
    python benchmarks/groundtruth.py FILE.jsonl ... --rows        # also every comparison
    python benchmarks/groundtruth.py FILE.jsonl ... --lofo        # also leave-one-family-out errors (refits; ~1-2 min)
    python benchmarks/groundtruth.py FILE.jsonl ... --include-mismatched   # also estimate designs qcompile does not emit

Reads any file of the ground-truth schema (../shared/groundtruth/README.md); every row is built as a
qcompile design and estimated with the compiler's own formulas (compiler.cost.groundtruth).

Metrics: latency and II (cycles), DSP, LUT, FF, BRAM_18K. For each: the median absolute % error
(APE), its 90th percentile, the share of comparisons within 2x, and the count. A comparison is a
design row, or one layer instance of a row that measured its layers (networks), or a design's
Vivado-synthesis block (`<id>@synth`, resources only). Measured and predicted values are first
floored at 1 cycle / 1 DSP / 1 BRAM / 10 LUT or FF, so a measured 0 is compared with "at most one
unit" (APE = |p - m| / m and within-2x on the floored values); metrics a row does not measure are
skipped for that row. Our estimate is the HLS C-synthesis estimate; rows measured after Vivado
synthesis are compared with it times the fitted stage factors (coefficients.toml synth_*_factor).

--json prints exactly one JSON object: {metric: {"median_ape", "p90_ape", "within_2x", "n"}, ...,
"families": {family: {metric: {...}}}, "rows": R, "comparisons": C, "unmodeled": [{"id", "where",
"reason"[, "partial": true]}], "unmodeled_count", "lofo": {family: {metric: {...}}} (with --lofo)}; APE values are percentages.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from compiler.validation import groundtruth as gt  # noqa: E402


def _fmt(v, pct=True) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.1f}%" if pct else f"{v:.2f}"


def print_table(title: str, table: dict, out=sys.stdout) -> None:
    print(title, file=out)
    print(f"  {'metric':10s} {'median APE':>11s} {'p90 APE':>10s} {'within 2x':>10s} {'n':>5s}", file=out)
    for m in gt.METRICS:
        t = table[m]
        w2 = "-" if t["within_2x"] is None else f"{100 * t['within_2x']:.0f}%"
        print(f"  {m:10s} {_fmt(t['median_ape']):>11s} {_fmt(t['p90_ape']):>10s} {w2:>10s} {t['n']:>5d}", file=out)


def family_tables(comps) -> dict:
    fams = sorted({c.family for c in comps}, key=lambda f: (gt.FAMILIES.index(f) if f in gt.FAMILIES else 99, f))
    return {f: gt.error_table([c for c in comps if c.family == f]) for f in fams}


def print_compact(title: str, tables: dict, out=sys.stdout) -> None:
    """One line per family: median APE per metric (n)."""
    print(title, file=out)
    print("  " + f"{'family':22s}" + "".join(f"{m:>16s}" for m in gt.METRICS), file=out)
    for fam, table in tables.items():
        cells = []
        for m in gt.METRICS:
            t = table[m]
            cells.append("-" if not t["n"] else f"{_fmt(t['median_ape'])} ({t['n']})")
        print("  " + f"{fam:22s}" + "".join(f"{c:>16s}" for c in cells), file=out)


def peer_errors(comps) -> dict:
    """{metric: (n, our median APE, the peer's median APE, in %)} over the comparisons whose row
    carries a peer tool's own estimate (FINN's), on the same measurements."""
    out = {}
    for m in gt.METRICS:
        pairs = []
        for c in comps:
            if c.peer and c.peer.get(m) is not None and c.ape(m) is not None:
                peer = gt.Comparison(c.id, c.family, c.row_id, c.layer, c.stage, c.measured, c.peer)
                pairs.append((c.ape(m), peer.ape(m)))
        if pairs:
            out[m] = (len(pairs), 100 * statistics.median(p[0] for p in pairs), 100 * statistics.median(p[1] for p in pairs))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="ground-truth JSONL files")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ap.add_argument("--rows", action="store_true", help="print every comparison")
    ap.add_argument("--lofo", action="store_true", help="leave-one-family-out errors (refits the coefficients)")
    ap.add_argument("--include-mismatched", action="store_true",
                    help="estimate designs qcompile does not emit (io_parallel conv/pool, accelerator wrappers) "
                         "with its streaming formulas; reported in families 'mismatched-*', not in the totals")
    args = ap.parse_args(argv)
    for f in args.files:
        if not Path(f).is_file():
            print(f"no such file: {f}", file=sys.stderr)
            return 2
    t0 = time.time()
    rows = gt.load_rows(args.files)
    prepared = gt.prepare(rows, include_mismatched=args.include_mismatched)
    ev = gt.evaluate_prepared(prepared)
    main_comps = [c for c in ev.comparisons if not c.family.startswith("mismatched-")]
    table = gt.error_table(main_comps)
    fams = family_tables(ev.comparisons)
    result = dict(table)
    result["peer"] = peer_errors(main_comps)
    result.update({"families": fams, "rows": ev.rows, "comparisons": len(main_comps),
                   "unmodeled": ev.unmodeled, "unmodeled_count": len(ev.unmodeled),
                   "seconds": round(time.time() - t0, 2)})
    if args.lofo:
        import fit_cost_model as fcm

        tables = fcm.load_tables(Path(gt.data_dir("hw_models")) / "coefficients.toml")
        result["lofo"] = fcm.lofo([p for p in prepared if not p.mismatched], tables,
                                  log=lambda m: print(m, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(result, allow_nan=False, default=lambda v: None))
        return 0
    partial = sum(1 for u in ev.unmodeled if u.get("partial"))
    print(f"{ev.rows} rows from {', '.join(Path(f).name for f in args.files)}: {len(main_comps)} comparisons, "
          f"{len(ev.unmodeled) - partial} rows not modeled, {partial} measurements of modeled rows left out "
          f"({time.time() - t0:.1f} s)")
    print_table("All comparisons", table)
    print_compact("Per family (median APE, n)", fams)
    if args.lofo:
        print_compact("Leave one family out: coefficients refitted without the family, errors on it", result["lofo"])
    if result["peer"]:
        print("Rows with a peer tool's own estimate (FINN's analytic one): its error next to ours, same rows")
        for m, (n, ours, theirs) in result["peer"].items():
            print(f"  {m:10s} ours median {_fmt(ours)}, FINN's estimate median {_fmt(theirs)}  (n={n})")
    if ev.unmodeled:
        print(f"Not modeled ({len(ev.unmodeled)}; 'partial': a measurement of a row whose other measurements are compared):")
        for u in ev.unmodeled:
            print(f"  {u['id']} ({u['where']}){' [partial]' if u.get('partial') else ''}: {u['reason']}")
    if args.rows:
        print("Comparisons (predicted / measured):")
        for c in ev.comparisons:
            cells = []
            for m in gt.METRICS:
                mv, pv = c.measured.get(m), c.predicted.get(m)
                cells.append(f"{m} -" if mv is None else f"{m} {pv:.0f}/{mv:.0f}")
            print(f"  {c.id} [{c.family}, {c.stage}]: " + ", ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
