"""onnx's shipped backend test cases through compile_model + simulate (compiler/validation/
onnx_backend.py): prints every case's outcome and the totals. `--only NAME` runs the cases
whose id contains NAME. Exit code 1 when any case is wrong or crashes."""
from __future__ import annotations

import argparse
import sys
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compiler.validation import onnx_backend  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", default="")
    ap.add_argument("--target", default="zcu104")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    counts = Counter()
    for case in onnx_backend.cases():
        if args.only not in case.id:
            continue
        o = onnx_backend.run(case, args.target)
        counts[o.status] += 1
        line = o.detail.splitlines()[0] if o.detail else ""
        print(f"{o.status:8s} {case.id:60s} {line[:160]}", flush=True)
    total = sum(counts.values())
    print(f"\n{total} cases: " + ", ".join(f"{counts[s]} {s}" for s in ("match", "refused", "wrong", "crash")))
    return 1 if counts["wrong"] or counts["crash"] else 0


if __name__ == "__main__":
    sys.exit(main())
