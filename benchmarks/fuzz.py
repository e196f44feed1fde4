"""Mutation fuzzing of the compiler (compiler/validation/fuzz.py): seeded, bounded, and
reproducible by case id.

    python benchmarks/fuzz.py [--count 5000] [--seed 0] [--budget SECONDS] [--jobs 2]
                              [--timeout 60] [--models D01,D07] [--corpus] [--out build/fuzz]
    python benchmarks/fuzz.py --replay D07-0-123       # one case again, with its traceback

The seeds are the dev models (../shared/models/dev, or $QCOMPILE_SHARED; D08 only when
named in --models) and, with --corpus, the models of build/corpus (benchmarks/corpus/
collect.py). Each seed's unmutated baseline runs first on both boards and a seed that is
not ok there is excluded (the reason is printed). Then --count cases, each a seed with
1..3 mutations, classified ok / refused / crash / hang / wrong; --budget stops starting
new cases after that many seconds. Prints the counts, a table per mutator, the failure
signatures with an example each, and every crash, hang and wrong design; writes
<out>/results.json and each failing model as <out>/cases/<id>.onnx.
Exit code 1 when any case (or baseline) is a crash, hang or wrong design, else 0."""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from compiler.validation import fuzz  # noqa: E402


def select(models: str, corpus: bool) -> list[fuzz.Seed]:
    """The seeds: every dev model (D08 only when asked for), corpus models with --corpus;
    --models keeps those whose name contains one of the comma-separated substrings."""
    wanted = [m for m in models.split(",") if m]
    seeds = fuzz.dev_seeds(include_slow=any(slow in m for m in wanted for slow in fuzz.SLOW_SEEDS))
    if corpus:
        seeds += fuzz.corpus_seeds(REPO / "build" / "corpus")
    return [s for s in seeds if not wanted or any(w in s.name for w in wanted)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=5000, help="cases to run (default 5000)")
    ap.add_argument("--seed", type=int, default=0, help="the run seed: case ids are <model>-<seed>-<index>")
    ap.add_argument("--budget", type=float, default=math.inf, help="seconds after which no new case starts")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per case before it is a hang")
    ap.add_argument("--models", default="", help="comma-separated name substrings of the seeds to use")
    ap.add_argument("--corpus", action="store_true", help="also the corpus models in build/corpus")
    ap.add_argument("--out", default=str(REPO / "build" / "fuzz"))
    ap.add_argument("--memory-gb", type=float, default=8.0, help="address-space limit of a worker")
    ap.add_argument("--replay", metavar="ID", help="run one case again and print its traceback")
    args = ap.parse_args()
    if args.replay:
        r = fuzz.replay(args.replay, Path(args.out), timeout=args.timeout)
        print(f"{r['id']} ({r['seed']}, {r['target']}): {r['status']} ({r['sub']}, stage {r['stage']})")
        for m in r["mutations"]:
            print(f"  {m['mutator']}: {m['what']}")
        print(f"  {r['detail']}")
        if r.get("checker"):
            print(f"  checker: {r['checker']}")
        if r.get("traceback"):
            print("\n" + r["traceback"])
        return 1 if r["status"] in fuzz.FAILURES else 0
    seeds = select(args.models, args.corpus)
    if not seeds:
        print("no seed models: set QCOMPILE_SHARED to the folder holding models/dev, or check --models",
              file=sys.stderr)
        return 2
    t0 = time.time()
    print(f"{len(seeds)} seeds, {args.count} cases, run seed {args.seed}, {args.jobs} jobs, timeout {args.timeout:g} s"
          + (f", budget {args.budget:g} s" if math.isfinite(args.budget) else ""), flush=True)
    result = fuzz.fuzz(seeds, args.count, args.seed, args.budget, args.jobs, args.timeout, Path(args.out),
                       log=lambda line: print(line, flush=True), memory_gb=args.memory_gb)
    print("\n" + fuzz.report(result))
    print(f"\nwall time {time.time() - t0:.0f} s")
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
