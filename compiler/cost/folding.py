"""Automatic folding: choose every MAC layer's PE x SIMD shape (and with it the width of every
stream) to meet a throughput, latency or resource request, or say which layer and resource
make it impossible.

Balanced folding, as in dataflow designs: the network's interval is its slowest stage's,
so for a candidate interval T every foldable layer takes its cheapest shape whose stages
(array, window generator, input converter) keep up with T. Layers are decided in
topological order, each option scored by the whole design's estimate (so the width
converters it causes and the per-channel stages running at its PE count), the earlier
choices fixed; a layer's options are pruned to the few cheapest on their own (and those
reading its input as it arrives). Candidate intervals are those the layers can reach; then
    --fps N         the largest T with clock / T >= N (cheapest design at that rate),
    --latency-us X  the largest T whose design meets the latency,
    --fit           the smallest T (fastest) whose design fits every resource cap.
Cost is not monotone in T (a fully parallel layer's zero weights vanish, a folded one
stores them), so --fit scans T upwards from the first interval whose lower bound (every
layer at its cheapest option alone) fits, not by bisection.
Without a request the compiler folds as --fit does, within the default caps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InfeasibleError
from .estimator import Estimator
from .model import RESOURCES, NetworkCost, device_share

DEFAULT_CAP = 0.8  # share of each device resource --fit may use
SHORTLIST = 8      # options per layer estimated as a whole design when planning an interval
MAX_SCAN = 12      # intervals planned in turn by --fit before bisecting the rest


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


def score(c: NetworkCost, caps: dict[str, float]) -> float:
    """How much of the allowed device a design takes (model.device_share)."""
    return device_share(c.totals, c.available, caps)


class Folder:
    """Plans (per MAC layer, its shape) for candidate intervals, on one design's estimator."""

    def __init__(self, graph, target, fixed: dict[str, dict] | None = None, caps: dict | None = None):
        self.est = Estimator(graph, target)
        self.target = target
        self.fixed = dict(fixed or {})
        self.caps = caps or {k: 1.0 for k in RESOURCES}
        est = self.est
        self.layers = []  # (layer index, name, options [(ov, op ii, its cost alone)])
        for i, node in enumerate(est.nodes):
            if est.shape_sets[i] is None or node.name in self.fixed:
                continue
            options = []
            for pe, simd in sorted(est.shape_sets[i]):
                ov = {"pe": pe, "simd": simd}
                # the layer's own stages (array, window generator) at an input arriving natively
                c = est.layer_cost(i, ov, {}, [node.op.native_fold(None, simd, pe)])
                options.append((ov, c.ii, c))
            self.layers.append((i, node.name, options))
        if not self.layers:
            raise InfeasibleError("no layer of this design has a parallelism knob to fold")
        self.available = target.resources

    def lower_bound(self, t: int) -> dict[str, float] | None:
        """Per resource, the least the foldable layers need at interval t (each alone at its
        cheapest option for that resource), or None when one cannot keep up."""
        out = {k: 0.0 for k in RESOURCES}
        for _, _, options in self.layers:
            ok = [c for _, ii, c in options if ii <= t]
            if not ok:
                return None
            for k in RESOURCES:
                out[k] += min(getattr(c, k) for c in ok)
        return out

    def may_fit(self, t: int) -> bool:
        lb = self.lower_bound(t)
        return lb is not None and all(lb[k] <= self.caps[k] * self.available[k] for k in RESOURCES
                                      if self.available[k] or lb[k])

    def candidates(self) -> list[int]:
        """Intervals the MAC layers can reach, from the floor the other layers set (at their
        most parallel) up."""
        mac = {i for i, _, _ in self.layers}
        floor = max((c.ii for j, c in enumerate(self.est.base) if j not in mac), default=1)
        return sorted({ii for _, _, opts in self.layers for _, ii, _ in opts if ii >= floor} | {floor})

    def plan(self, t: int) -> dict[str, dict] | None:
        """Shapes for interval t: each layer in turn takes the cheapest option whose whole
        design keeps every stage within t (earlier layers as chosen, later ones as they are)."""
        chosen = {name: dict(ov) for name, ov in self.fixed.items()}
        for i, name, options in self.layers:
            best, best_score = None, None
            for ov in self._shortlist(i, name, options, t, chosen):
                trial = {**chosen, name: ov}
                cost = self.est.estimate(trial)
                layer = cost.costs[i]
                if layer.ii > t:
                    continue
                s = score(cost, self.caps)
                if best_score is None or s < best_score:
                    best, best_score = ov, s
            if best is None:
                return None
            chosen[name] = best
        return chosen

    def _shortlist(self, i: int, name: str, options, t: int, chosen: dict) -> list[dict]:
        """The options of layer i worth a whole-design estimate at interval t: the SHORTLIST
        cheapest alone, and those reading the input at the width it arrives (no converter)."""
        ok = [(ov, c) for ov, ii, c in options if ii <= t]
        if not ok:
            return []
        ok.sort(key=lambda oc: device_share(oc[1].resources(), self.available, self.caps))
        picked = [ov for ov, _ in ok[:SHORTLIST]]
        arriving = next(row[3][0] for row in self.est.changes({**chosen, name: ok[0][0]}) if row[0] == i)
        if arriving is not None:
            op = self.est.nodes[i].op
            picked += [ov for ov, _ in ok[SHORTLIST:] if op.native_fold(arriving, ov["simd"], ov["pe"]) == arriving]
        return picked

    def cost(self, plan: dict[str, dict]) -> NetworkCost:
        return self.est.estimate(plan)


def fold(graph, target, request: FoldRequest, fixed: dict[str, dict] | None = None) -> dict[str, dict]:
    """{layer: {"pe": .., "simd": ..}} for every foldable MAC layer (layers in `fixed` keep
    their settings), meeting the request, or InfeasibleError naming the wall."""
    caps = request._caps() if (request.fit or request.caps) else {k: 1.0 for k in RESOURCES}
    folder = Folder(graph, target, fixed, caps)
    cands = folder.candidates()
    memo: dict[int, tuple] = {}

    def at(t: int):
        if t not in memo:
            p = folder.plan(t)
            memo[t] = (p, None if p is None else folder.cost(p))
        return memo[t]

    def ok(t: int) -> bool:
        p, c = at(t)
        return p is not None and _within(c, caps)

    if request.fps is not None:
        t_max = math.floor(target.clock_mhz * 1e6 / request.fps)
        feasible = [t for t in cands if t <= t_max]
        if not feasible or at(feasible[-1])[0] is None:
            raise InfeasibleError(f"{request.fps:g} inferences/s needs an interval of at most {t_max} cycles at "
                                  f"{target.clock_mhz:g} MHz; {_slowest(folder, t_max)} (the wall)")
        t = _largest(feasible, lambda t: at(t)[0] is not None)
        if request.latency_us is not None:
            t = _latency(folder, [c for c in feasible if c <= t], request, at)
        p, c = at(t)
        if not _within(c, caps):
            raise InfeasibleError(_wall(c, caps, request))
        return {k: v for k, v in p.items() if k not in (fixed or {})}
    if request.latency_us is not None:
        usable = [t for t in cands if at(t)[0] is not None] if len(cands) <= 64 else cands
        t = _latency(folder, usable, request, at)
        p, c = at(t)
        if not _within(c, caps):
            raise InfeasibleError(_wall(c, caps, request))
        return {k: v for k, v in p.items() if k not in (fixed or {})}
    # --fit (and the default): the smallest interval whose design fits, scanning upwards from
    # the first one whose lower bound fits (cost is not monotone); after MAX_SCAN plans, the
    # rest by bisection
    if not ok(cands[-1]):
        p, c = at(cands[-1])
        if p is None:
            raise InfeasibleError(f"{request.describe() or 'fit the device'}: {_slowest(folder, cands[-1])}")
        raise InfeasibleError(_wall(c, caps, request))
    hopeful = [k for k, t in enumerate(cands) if folder.may_fit(t)]
    for k in hopeful[:MAX_SCAN]:
        if ok(cands[k]):
            return {n: v for n, v in at(cands[k])[0].items() if n not in (fixed or {})}
    lo, hi = (hopeful[MAX_SCAN] if len(hopeful) > MAX_SCAN else len(cands) - 1), len(cands) - 1
    while lo < hi:                      # invariant: cands[hi] fits
        mid = (lo + hi) // 2
        if ok(cands[mid]):
            hi = mid
        else:
            lo = mid + 1
    p, _ = at(cands[hi])
    return {k: v for k, v in p.items() if k not in (fixed or {})}


def _largest(ts: list[int], good) -> int:
    """The largest t in ascending ts with good(t) (good(ts[-1]) holds)."""
    return ts[-1] if good(ts[-1]) else max(t for t in ts if good(t))


def _latency(folder, ts: list[int], request: FoldRequest, at) -> int:
    """The largest interval among ts whose design meets the latency request."""
    good = [t for t in ts if at(t)[0] is not None and at(t)[1].latency_us <= request.latency_us]
    if not good:
        done = [at(t)[1] for t in ts if at(t)[0] is not None]
        best = min(done, key=lambda c: c.latency) if done else None
        if best is None:
            raise InfeasibleError(f"latency <= {request.latency_us:g} us is impossible: no folding keeps up")
        wall = max(best.layers, key=lambda l: l[2].latency)
        raise InfeasibleError(f"latency <= {request.latency_us:g} us is impossible: the fastest design takes "
                              f"{best.latency_us:.3f} us; layer {wall[0]!r} alone takes {wall[2].latency} "
                              "cycles (the wall)")
    return max(good)


def _slowest(folder: Folder, t: int) -> str:
    """Which layer cannot keep up with interval t even at its most parallel."""
    base = folder.est.estimate({name: opts[-1][0] if opts else {} for _, name, opts in folder.layers}
                               if folder.layers else None)
    worst = max(base.layers, key=lambda l: l[2].ii)
    return f"layer {worst[0]!r} needs {worst[2].ii} cycles per inference even at its most parallel"


def _within(c: NetworkCost, caps: dict[str, float]) -> bool:
    return all(c.totals[k] <= caps[k] * c.available[k] for k in RESOURCES if c.available[k] or c.totals[k])


def _wall(c: NetworkCost, caps: dict[str, float], request: FoldRequest) -> str:
    over = [(c.totals[k] / max(caps[k] * c.available[k], 1e-9), k) for k in RESOURCES]
    ratio, res = max(over)
    layer = max(c.layers, key=lambda l: getattr(l[2], res))
    return (f"{request.describe() or 'fit the device'}: impossible even at the most folding the request allows: {res} "
            f"{c.totals[res]:.0f} > {100 * caps[res]:g}% of the device ({caps[res] * c.available[res]:.0f}); "
            f"layer {layer[0]!r} uses {getattr(layer[2], res):.0f} (the wall)")
