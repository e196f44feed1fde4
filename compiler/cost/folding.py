"""Automatic folding: choose every layer's reuse factor to meet a throughput, latency or
resource request, or say which layer and resource make it impossible.

Balanced folding, as in dataflow designs: the network's interval is its slowest stage's,
so for a candidate interval T every foldable layer takes its cheapest reuse factor whose
interval is at most T. Candidate intervals are those the layers can actually reach; the
sweep evaluates each with the fast estimator and picks
    --fps N         the largest T with clock / T >= N (cheapest design at that rate),
    --latency-us X  the cheapest T whose latency is at most X,
    --fit           the smallest T (fastest) that fits every resource cap.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InfeasibleError
from .estimator import Estimator
from .model import RESOURCES, NetworkCost

DEFAULT_CAP = 0.8  # share of each device resource --fit may use


def divisors_within(products: int, max_unroll: int) -> list[int]:
    """Reuse factors r dividing `products` with products / r <= max_unroll, ascending."""
    small = [d for d in range(1, math.isqrt(products) + 1) if products % d == 0]
    all_divs = sorted(set(small + [products // d for d in small]))
    return [r for r in all_divs if products // r <= max_unroll]


@dataclass
class FoldRequest:
    fps: float | None = None
    latency_us: float | None = None
    fit: bool = False
    caps: dict[str, float] | None = None   # resource -> share of the device (default 0.8 each)

    @property
    def active(self) -> bool:
        return self.fps is not None or self.latency_us is not None or self.fit

    def describe(self) -> str:
        parts = []
        if self.fps is not None:
            parts.append(f"{self.fps:g} inferences/s")
        if self.latency_us is not None:
            parts.append(f"latency <= {self.latency_us:g} us")
        if self.fit or self.caps:
            parts.append("fit within " + ", ".join(f"{k} {100 * v:g}%" for k, v in self._caps().items()))
        return "; ".join(parts)

    def _caps(self) -> dict[str, float]:
        caps = {k: DEFAULT_CAP for k in RESOURCES}
        caps.update(self.caps or {})
        return caps


def fold(graph, target, request: FoldRequest, fixed: dict[str, int] | None = None) -> dict[str, int]:
    """Reuse factor per foldable layer for the request (layers in `fixed` keep theirs)."""
    fixed = fixed or {}
    est = Estimator(graph, target)
    layers = []
    for i, node in enumerate(est.nodes):
        choices = node.op.fold_choices(target)
        if not choices or node.name in fixed:
            continue
        iis = [est.layer_cost(i, {"reuse_factor": r}, {}).ii for r in choices]
        layers.append((node.name, i, choices, iis))
    if not layers:
        raise InfeasibleError("no layer of this design has a parallelism knob to fold")
    floor_ii = max((c.ii for j, c in enumerate(est.base) if est.names[j] not in {n for n, *_ in layers}), default=1)
    candidates = sorted({ii for *_, iis in layers for ii in iis if ii >= floor_ii} | {floor_ii})

    def plan(t: int) -> dict[str, int] | None:
        out = {}
        for name, _, choices, iis in layers:
            ok = [r for r, ii in zip(choices, iis) if ii <= t]
            if not ok:
                return None
            out[name] = ok[-1]  # the largest reuse factor (fewest multipliers) that keeps up
        return out

    def cost(p: dict[str, int]) -> NetworkCost:
        return est.estimate({k: {"reuse_factor": v} for k, v in {**p, **fixed}.items()})

    # 1. the rate and latency requests narrow the candidates; 2. the resources must fit
    # (the caps with --fit, else the whole device); 3. --fit alone takes the fastest
    # remaining design, a rate or latency request the cheapest one that meets it.
    options = [(t, p) for t in candidates if (p := plan(t)) is not None]
    if request.fps is not None:
        t_max = math.floor(target.clock_mhz * 1e6 / request.fps)
        options = [(t, p) for t, p in options if t <= t_max]
        if not options:
            name, _, _, iis = max(layers, key=lambda l: min(l[3]))
            raise InfeasibleError(f"{request.fps:g} inferences/s needs an interval of at most {t_max} cycles at "
                                  f"{target.clock_mhz:g} MHz; layer {name!r} needs {min(iis)} cycles even at its "
                                  "most parallel (the wall)")
    if request.latency_us is not None:
        fast = [(t, p) for t, p in options if cost(p).latency_us <= request.latency_us]
        if not fast:
            best = min((cost(p) for _, p in options), key=lambda c: c.latency)
            wall = max(best.layers, key=lambda l: l[2].latency)
            raise InfeasibleError(f"latency <= {request.latency_us:g} us is impossible: the fastest design takes "
                                  f"{best.latency_us:.3f} us; layer {wall[0]!r} alone takes {wall[2].latency} "
                                  "cycles (the wall)")
        options = fast
    caps = request._caps() if (request.fit or request.caps) else {k: 1.0 for k in RESOURCES}
    fitting = [(t, p) for t, p in options if _within(cost(p), caps)]
    if not fitting:
        raise InfeasibleError(_wall(cost(options[-1][1]), caps, request))
    only_fit = request.fps is None and request.latency_us is None
    return (fitting[0] if only_fit else fitting[-1])[1]


def _within(c: NetworkCost, caps: dict[str, float]) -> bool:
    return all(c.totals[k] <= caps[k] * c.available[k] for k in RESOURCES if c.available[k] or c.totals[k])


def _wall(c: NetworkCost, caps: dict[str, float], request: FoldRequest) -> str:
    over = [(c.totals[k] / max(caps[k] * c.available[k], 1e-9), k) for k in RESOURCES]
    ratio, res = max(over)
    layer = max(c.layers, key=lambda l: getattr(l[2], res))
    return (f"{request.describe() or 'fit the device'}: impossible even at the most folding the request allows: {res} "
            f"{c.totals[res]:.0f} > {100 * caps[res]:g}% of the device ({caps[res] * c.available[res]:.0f}); "
            f"layer {layer[0]!r} uses {getattr(layer[2], res):.0f} (the wall)")
