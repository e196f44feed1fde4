#!/usr/bin/env python3
"""A multi-objective Optuna search over per-layer widths and folding, on the digits MLP of
`make demo`.

  1. compile the model once for the target (with calibration data): the layers to search and
     the reuse factors each can take;
  2. an Optuna study with two objectives: minimize the device share (the largest of LUT, FF
     and DSP utilization; or the latency, --objective latency) from compiler.estimate, and
     maximize the bit-accurate simulator's accuracy on the held-out digits, both on the design
     compile_model(..., layers=config) builds for the trial's per-layer reuse_factor,
     weight_bits and act_bits (exactly what `qcompile --config` builds);
  3. print the Pareto front and write pareto.png (every trial, the front highlighted);
  4. take the cheapest point on the front within --max-drop of the float model's accuracy,
     write it as a `qcompile --config` file, compile it with the real command line and check
     that its report.json has exactly the latency, II and resources the search used.

The sampler is NSGA-II: there are two objectives, and the space is discrete and ragged (a
reuse factor is one of a layer's legal cycle counts, widths are small integers): a genetic
search needs no model of the objectives, only crossover and mutation of whole configurations,
and keeps a spread population along the front rather than one best point.

    python examples/optuna_search.py                     # 150 trials, build/optuna_search
    python examples/optuna_search.py --quick             # 24 trials, a few seconds
    python examples/optuna_search.py --objective latency --target pynq-z2

Needs Optuna and matplotlib: pip install 'qcompile[search]'.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import compiler
from compiler.frontend.reference import run_reference

HERE = Path(__file__).resolve().parent
MODEL = HERE / "digits_mlp.onnx"
CALIB = HERE / "digits_calib_x.npy"
WEIGHT_BITS = (3, 12)   # within compiler.settings.WIDTH_RANGE (2..32); at 2 bits every weight rounds to zero
ACT_BITS = (4, 14)
SHARE_OF = ("lut", "ff", "dsp")
COLUMN = {"share": "share", "latency": "lat us"}


def overuse(cost) -> float:
    """How far past the device the design is, as a share of the most overused resource (<= 0: it fits)."""
    return max((cost.totals[r] - cost.available[r]) / max(cost.available[r], 1) for r in cost.totals)


def accuracy(design, x: np.ndarray, y: np.ndarray) -> float:
    return float((compiler.simulate(design, x).argmax(1) == y).mean())


def settings_text(config: dict) -> str:
    return "  ".join(f"{c['reuse_factor']:>4}/{c['weight_bits']:>2}/{c['act_bits']:>2}" for c in config.values())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=None, help="Optuna trials (default 150; 24 with --quick)")
    ap.add_argument("--quick", action="store_true", help="few trials and 180 held-out samples (a smoke run)")
    ap.add_argument("--objective", choices=("share", "latency"), default="share",
                    help="cost to minimize: device share (max of LUT/FF/DSP utilization) or latency")
    ap.add_argument("--target", default="zcu104", help="board (see `qcompile targets`)")
    ap.add_argument("--max-drop", type=float, default=0.01, help="accuracy below the float model's allowed")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-dir", default="build/optuna_search", help="pareto.png, the chosen config and its design")
    args = ap.parse_args(argv)
    if args.trials is not None and args.trials < 1:
        ap.error("--trials must be at least 1")
    try:
        import matplotlib
        import optuna
    except ImportError as e:
        print(f"{Path(__file__).name}: {e.name} is missing: pip install 'qcompile[search]'", file=sys.stderr)
        return 2
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trials = args.trials or (24 if args.quick else 150)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    calib = np.load(CALIB)
    x, y = np.load(HERE / "digits_test_x.npy"), np.load(HERE / "digits_test_y.npy")
    if args.quick:
        x, y = x[:180], y[:180]
    base = compiler.compile_model(MODEL, args.target, calib=calib)
    # the reuse factors the estimator and compile_model accept for each layer (its legal cycle counts)
    choices = {n.name: n.op.fold_choices(base.target) for n in base.graph.nodes() if n.kind == "Dense"}
    base_rf = {name: c.detail["reuse_factor"] for name, _, c in compiler.estimate(base).layers if name in choices}
    float_acc = float((run_reference(MODEL, x)[0].argmax(1) == y).mean())
    print(f"{MODEL.name} on {args.target}: layers {', '.join(choices)}; float model accuracy {float_acc:.2%} "
          f"on {len(y)} held-out digits")
    for name, c in choices.items():
        print(f"  {name}: reuse factors {', '.join(map(str, c))}")

    def cost_of(cost) -> float:
        return cost.latency_us if args.objective == "latency" else cost.largest_share(SHARE_OF)

    what_if_gaps: list[float] = []  # relative differences of objective 1, where the two estimates differ

    def objective(trial) -> tuple[float, float]:
        config = {name: {"reuse_factor": trial.suggest_categorical(f"{name}.reuse_factor", c),
                         "weight_bits": trial.suggest_int(f"{name}.weight_bits", *WEIGHT_BITS),
                         "act_bits": trial.suggest_int(f"{name}.act_bits", *ACT_BITS)}
                  for name, c in choices.items()}
        # the design `qcompile --config` builds for this configuration: its estimate is what
        # the command line's report will say, and its simulator what the hardware computes
        design = compiler.compile_model(MODEL, args.target, calib=calib, layers=config)
        cost = compiler.estimate(design)
        what_if = compiler.estimate(base, config)  # the same configuration as a what-if on the base design
        if not same_cost(what_if, cost):
            what_if_gaps.append(cost_of(what_if) / cost_of(cost) - 1)
        acc = accuracy(design, x, y)
        trial.set_user_attr("config", config)
        trial.set_user_attr("cost", {"latency": cost.latency, "ii": cost.ii, "totals": dict(cost.totals),
                                     "latency_us": cost.latency_us, "share": cost.largest_share(SHARE_OF), "fits": cost.fits})
        if hasattr(trial, "set_constraint"):  # optuna >= 5: a design that does not fit is infeasible
            trial.set_constraint("fits", overuse(cost))
        return cost_of(cost), acc

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # a few generations even in a short run: the default population (50) would leave --quick random
    sampler = optuna.samplers.NSGAIISampler(population_size=max(8, min(50, trials // 6)), seed=args.seed)
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    # one accurate anchor (the widest widths at the base design's folding): the front always
    # has a point near the float accuracy, however few trials run
    study.enqueue_trial({**{f"{n}.reuse_factor": rf for n, rf in base_rf.items()},
                         **{f"{n}.weight_bits": WEIGHT_BITS[1] for n in choices},
                         **{f"{n}.act_bits": ACT_BITS[1] for n in choices}})
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    dt = time.perf_counter() - t0
    print(f"{trials} trials in {dt:.1f} s ({dt / trials * 1e3:.0f} ms each: compile, estimate, simulate)")
    if what_if_gaps:
        worst = max(what_if_gaps, key=abs)
        print(f"note: compiler.estimate(base, config) differed from the compiled design's estimate on "
              f"{len(what_if_gaps)} of {trials} trials (its {args.objective} by {worst:+.1%} at most); the search "
              "uses the compiled design's, what --config builds")

    done = [t for t in study.trials if t.values is not None]
    # in increasing cost; equal costs (differences a floor hides) by the other cost
    other = "share" if args.objective == "latency" else "latency"
    front = sorted(study.best_trials, key=lambda t: (t.values[0], -t.values[1], cost_value(t, other)))
    cost_name, other_name = COLUMN[args.objective], COLUMN[other]
    print(f"Pareto front ({len(front)} of {len(done)} trials; {cost_name} minimized, accuracy maximized; "
          f"per layer reuse_factor/weight_bits/act_bits):")
    print(f"  {'trial':>5} {cost_name:>7} {'DSP':>6} {'LUT':>8} {other_name:>7} {'acc':>7}   "
          + "  ".join(f"{name:>10}" for name in choices))
    chosen = None
    for t in front:
        c = t.user_attrs["cost"]
        ok = c["fits"] and t.values[1] >= float_acc - args.max_drop
        if ok and chosen is None:  # the front is in increasing cost: the first accurate enough
            chosen = t
        print(f"  {t.number:>5} {fmt_cost(t.values[0], args.objective):>7} {c['totals']['dsp']:>6,.0f} "
              f"{c['totals']['lut']:>8,.0f} {fmt_cost(cost_value(t, other), other):>7} {t.values[1]:>7.2%}   "
              f"{settings_text(t.user_attrs['config'])}{'' if c['fits'] else '   does not fit'}"
              f"{'   <- chosen' if t is chosen else ''}")

    plot = out_dir / "pareto.png"
    plot_front(plt, done, front, chosen, float_acc, args, plot)
    print(f"wrote {plot}")
    if chosen is None:
        print(f"no point on the front stays within {args.max_drop:.1%} of the float accuracy ({float_acc:.2%})")
        return 1

    config = chosen.user_attrs["config"]
    config_file = out_dir / "chosen_config.json"
    config_file.write_text(json.dumps({"layers": config}, indent=1) + "\n")
    print(f"chosen: trial {chosen.number}, {cost_name} {fmt_cost(chosen.values[0], args.objective)}, accuracy "
          f"{chosen.values[1]:.2%} (float {float_acc:.2%}, allowed drop {args.max_drop:.1%}); wrote {config_file}")
    return check_cli(config_file, chosen, out_dir / "design", args.target, x, y)


def same_cost(a, b) -> bool:
    return a.latency == b.latency and a.ii == b.ii and dict(a.totals) == dict(b.totals)


def cost_value(trial, objective: str) -> float:
    c = trial.user_attrs["cost"]
    return c["latency_us"] if objective == "latency" else c["share"]


def fmt_cost(value: float, objective: str) -> str:
    return f"{value:.3f}" if objective == "latency" else f"{value:.1%}"


def check_cli(config_file: Path, chosen, out: Path, target: str, x: np.ndarray, y: np.ndarray) -> int:
    """Compile the chosen point through `qcompile --config` (a fresh process, as a user would)
    and compare its report with the estimate the search used: they must be equal, not close."""
    cmd = [sys.executable, "-m", "compiler.cli", str(MODEL), "--target", target, "--calib", str(CALIB),
           "--config", str(config_file), "--json", "-o", str(out), "--force"]
    print("compiling it: qcompile " + " ".join(cmd[3:]))
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent)
    if p.returncode != 0:
        print(f"qcompile failed (exit {p.returncode}):\n{p.stderr}")
        return 1
    doc = json.loads(p.stdout)
    want = chosen.user_attrs["cost"]
    got = {"latency": doc["latency_cycles"], "ii": doc["ii_cycles"], "totals": doc["resources"]}
    acc = accuracy(compiler.load_design(out), x, y)
    equal = (got["latency"] == want["latency"] and got["ii"] == want["ii"] and got["totals"] == want["totals"]
             and acc == chosen.values[1])
    r = got["totals"]
    print(f"  report.json: latency {got['latency']} cycles, II {got['ii']}, DSP {r['dsp']:,.0f}, "
          f"LUT {r['lut']:,.2f}, FF {r['ff']:,.2f}, BRAM18 {r['bram_18k']:g}, URAM {r['uram']:g}; "
          f"the written design's accuracy {acc:.2%}")
    if not equal:
        print(f"  MISMATCH: the search estimated latency {want['latency']}, II {want['ii']}, {want['totals']}, "
              f"accuracy {chosen.values[1]:.2%}")
        return 1
    print("  check: the CLI's latency, II and resource totals equal the search's estimate exactly (and its accuracy)")
    return 0


def plot_front(plt, done: list, front: list, chosen, float_acc: float, args, path: Path) -> None:
    """Every trial and the front: all of them (left) and near the float accuracy (right),
    where the front's points would otherwise sit on top of each other."""
    from matplotlib.ticker import FuncFormatter

    scale = 1.0 if args.objective == "latency" else 100.0
    fx, fy = [t.values[0] * scale for t in front], [t.values[1] * 100 for t in front]
    top = max(t.values[1] for t in done) * 100
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, low in zip(axes, (min(t.values[1] for t in done) * 100 - 2, (float_acc - 4 * args.max_drop) * 100)):
        for fits, style in ((True, dict(c="0.65", marker="o")), (False, dict(c="0.75", marker="x"))):
            some = [t for t in done if t.user_attrs["cost"]["fits"] == fits]
            if not some:
                continue
            ax.scatter([t.values[0] * scale for t in some], [t.values[1] * 100 for t in some], s=12,
                       label=f"trials ({len(some)}{'' if fits else ', do not fit'})", **style)
        ax.step(fx, fy, where="post", c="tab:red", lw=1)
        ax.scatter(fx, fy, s=22, c="tab:red", label=f"Pareto front ({len(front)})", zorder=3)
        if chosen is not None:
            ax.scatter([chosen.values[0] * scale], [chosen.values[1] * 100], s=160, marker="*", c="tab:blue",
                       label=f"chosen (trial {chosen.number})", zorder=4)
        ax.axhline(float_acc * 100, ls="--", c="k", lw=0.8, label=f"float model {float_acc:.1%}")
        ax.axhline((float_acc - args.max_drop) * 100, ls=":", c="k", lw=0.8,
                   label=f"allowed drop {args.max_drop:.1%}")
        ax.set_xscale("log")  # costs span decades (fully parallel to deeply folded)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        ax.set_xlabel("estimated latency (us)" if args.objective == "latency" else
                      "device share (max of LUT, FF, DSP utilization, %)")
        ax.set_ylim(max(0.0, low), min(100.0, top + 1))
    axes[0].set_ylabel("accuracy, bit-accurate simulator (%)")
    axes[0].set_title("all trials")
    axes[1].set_title("near the float accuracy")
    axes[1].legend(loc="lower right", fontsize=8)
    fig.suptitle(f"{MODEL.stem} on {args.target}: NSGA-II over per-layer widths and reuse factors")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
