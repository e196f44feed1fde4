"""Design-space sweeps on a Dask cluster (`qcompile sweep`).

Each (model, target) is compiled once, as one task; its configurations (per-layer settings in
compiler.estimate's override format, from --configs) are then estimated in chunks, as tasks
that take the compiled design (Dask moves it to the worker once), so a sweep of 1,000 points
compiles len(models) x len(targets) times, not 1,000. With data, accuracy is measured with
the bit-accurate simulator: folding knobs (reuse_factor, pe, simd, memory) do not change a bit
of the outputs, so points that differ only in them share their design's measurement; points
that set weight_bits/act_bits are compiled for it, once per distinct numeric setting (the
`compiled` column says which). A LocalCluster runs by default, an existing scheduler with
`scheduler=ADDRESS`. Results: DIR/sweep.csv, one row per point, and a Pareto plot per model
(DIR/pareto_<model>.png, with matplotlib)."""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import progress
from .errors import CompileError
from .resources import read_json

RESOURCES = ("lut", "ff", "dsp", "bram_18k", "uram")
NUMERIC_KNOBS = ("weight_bits", "act_bits")
CHUNK = 250   # configurations per estimate task
COLUMNS = ("model", "target", "config", "latency_us", "ii_cycles", "throughput_per_s", *RESOURCES,
           "device_share", "fits", "compiled", "accuracy", "argmax_agreement")


@dataclass
class SweepRequest:
    models: list[str]
    targets: list[str]
    configs: list[tuple[str, dict]] = field(default_factory=lambda: [("base", {})])
    compile_args: dict = field(default_factory=dict)   # compile_model's folding request etc.
    data: np.ndarray | None = None                     # inputs in the model's layout
    labels: np.ndarray | None = None


def read_configs(path: str) -> list[tuple[str, dict]]:
    """--configs FILE: a JSON list of points, each {"name": ..., "layers": {layer: {knob: v}}}
    or a bare {layer: {knob: v}}; or an object {name: {layer: {knob: v}}}."""
    doc = read_json(Path(path), "configs", CompileError)
    items = list(doc.items()) if isinstance(doc, dict) else list(enumerate(doc)) if isinstance(doc, list) else None
    if not items:
        raise CompileError(f"configs {path}: expected a non-empty JSON list of {{\"name\": ..., \"layers\": "
                           "{layer: {knob: value}}} or an object {name: {layer: {knob: value}}}")
    out = []
    for key, point in items:
        if not isinstance(point, dict):
            raise CompileError(f"configs {path}: point {key!r} is not an object of per-layer settings")
        name = str(point.get("name", key)) if "layers" in point else str(key)
        layers = point["layers"] if "layers" in point else point
        if not isinstance(layers, dict) or not all(isinstance(v, dict) for v in layers.values()):
            raise CompileError(f"configs {path}: point {name!r}: expected {{layer: {{knob: value}}}}")
        out.append((name, layers))
    return out


# ---- the tasks (run on the workers) ----------------------------------------------------------
def compile_task(model: str, target: str, compile_args: dict):
    import compiler

    return compiler.compile_model(model, target, **compile_args)


def estimate_task(design, configs: list[tuple[str, dict]]) -> list[dict]:
    import compiler

    cost = compiler.estimate_batch(design, [c for _, c in configs])
    share = cost.largest_share()
    rows = []
    for i, (name, _) in enumerate(configs):
        rows.append({"config": name, "latency_us": float(cost.latency_us[i]), "ii_cycles": int(cost.ii[i]),
                     "throughput_per_s": float(cost.throughput[i]),
                     **{r: round(float(cost.totals[r][i]), 1) for r in RESOURCES},
                     "device_share": round(float(share[i]), 5), "fits": bool(cost.fits[i])})
    return rows


def outputs_task(design, numerics: dict, data) -> np.ndarray:
    """The simulator's first output on data (samples, values), for the design compiled again
    with these weight/activation widths when any are given."""
    import compiler

    if numerics:
        layers = {**(design.compile_args.get("layers") or {})}
        for name, knobs in numerics.items():
            layers[name] = {**layers.get(name, {}), **knobs}
        design = compiler.recompile(design, layers=layers)
    y = compiler.simulate(design, data)
    return np.asarray(y[0] if isinstance(y, list) else y).reshape(len(data), -1)


def score_task(y: np.ndarray, base: np.ndarray, labels, compiled: bool) -> dict:
    """Accuracy on the labels and argmax agreement with the design as compiled."""
    acc = None if labels is None else float(np.mean(y.argmax(1) == np.asarray(labels).reshape(-1)))
    return {"compiled": compiled, "accuracy": acc, "argmax_agreement": float(np.mean(y.argmax(1) == base.argmax(1)))}


def _numerics(config: dict) -> dict:
    return {layer: {k: v for k, v in knobs.items() if k in NUMERIC_KNOBS}
            for layer, knobs in config.items() if any(k in NUMERIC_KNOBS for k in knobs)}


# ---- the driver ---------------------------------------------------------------------------------
def run_sweep(req: SweepRequest, out_dir: Path, scheduler: str | None = None, workers: int = 2,
              processes: bool = True) -> list[dict]:
    """Run the sweep on a cluster; write out_dir/sweep.csv and the plots; return the rows."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise CompileError("qcompile sweep needs dask.distributed: pip install 'qcompile[search]'") from None
    out_dir = Path(out_dir)
    cluster = None
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout=5)
            except (OSError, TimeoutError) as e:
                raise CompileError(f"--scheduler {scheduler}: cannot connect ({e})") from None
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=None)
            client = Client(cluster)
        with client:
            rows = _run(client, req)
    finally:
        if cluster is not None:
            cluster.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "sweep.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    plot_pareto(rows, out_dir)
    return rows


def _run(client, req: SweepRequest) -> list[dict]:
    from distributed import as_completed, wait

    designs = {(m, t): client.submit(compile_task, m, t, req.compile_args, key=f"compile-{i}-{j}", pure=False)
               for i, m in enumerate(req.models) for j, t in enumerate(req.targets)}
    wait(list(designs.values()))
    for (m, t), fut in designs.items():
        if fut.status == "error":
            exc = fut.exception()
            raise CompileError(f"{m} on {t}: {exc}") if not isinstance(exc, CompileError) else exc
    tasks = {}
    for (m, t), design in designs.items():
        for k in range(0, len(req.configs), CHUNK):
            tasks[client.submit(estimate_task, design, req.configs[k:k + CHUNK], pure=False)] = ("est", m, t, k)
        if req.data is not None:   # the design's own outputs once; each numeric variant against them
            base = client.submit(outputs_task, design, {}, req.data, pure=False)
            for sig, numerics in _distinct_numerics(req.configs).items():
                y = client.submit(outputs_task, design, numerics, req.data, pure=False) if numerics else base
                fut = client.submit(score_task, y, base, req.labels, bool(numerics), pure=False)
                tasks[fut] = ("acc", m, t, sig)
    estimates, accuracy = {}, {}
    with progress.bar(total=len(tasks), desc="sweep", unit="task") as shown:
        for fut in as_completed(list(tasks)):
            kind, m, t, k = tasks[fut]
            result = fut.result()
            (estimates if kind == "est" else accuracy)[(m, t, k)] = result
            shown.update(1)
    rows = []
    for m in req.models:
        for t in req.targets:
            for k in range(0, len(req.configs), CHUNK):
                for (name, config), row in zip(req.configs[k:k + CHUNK], estimates[(m, t, k)]):
                    acc = accuracy.get((m, t, _signature(_numerics(config))), {"compiled": False, "accuracy": None,
                                                                                "argmax_agreement": None})
                    rows.append({"model": _model_name(m), "target": t, **row, **acc})
    return rows


def _signature(numerics: dict) -> str:
    return json.dumps(numerics, sort_keys=True)


def _distinct_numerics(configs) -> dict[str, dict]:
    return {_signature(_numerics(c)): _numerics(c) for _, c in configs}


def _model_name(path: str) -> str:
    p = Path(path)
    return p.parent.name if p.stem == "model" else p.stem


def pareto_front(cost: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats: lower cost and higher-or-equal value (or
    lower-or-equal cost and higher value), by increasing cost."""
    order = np.lexsort((-value, cost))
    front, best = [], -np.inf
    for i in order:
        if value[i] > best:
            front.append(i)
            best = value[i]
    return np.array(front, dtype=int)


def plot_pareto(rows: list[dict], out_dir: Path) -> list[Path]:
    """Per model: estimated latency against device share, one colour per target, the Pareto
    front (lower latency and lower share) drawn; None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        for target in dict.fromkeys(r["target"] for r in mine):
            pts = [r for r in mine if r["target"] == target]
            share = np.array([r["device_share"] for r in pts]) * 100
            lat = np.array([r["latency_us"] for r in pts])
            ax.scatter(share, lat, s=12, alpha=0.5, label=target)
            front = pareto_front(share, -lat)
            ax.plot(share[front], lat[front], "-", lw=1.2)
        ax.axvline(100, ls=":", color="gray", lw=1)   # beyond it a design does not fit
        ax.set_xlabel("device share, % (max of LUT, FF, DSP, BRAM)")
        ax.set_ylabel("estimated latency, µs")
        ax.set_yscale("log")
        ax.set_title(f"{model}: {len(mine)} points")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / f"pareto_{re.sub(r'[^A-Za-z0-9_.-]', '_', model)}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
