"""Cost records and the dataflow composition of per-layer costs into a network estimate."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

RESOURCES = ("dsp", "lut", "ff", "bram_18k", "uram")
FIELDS = ("ii", "latency", "first_out", *RESOURCES)  # a LayerCost's numbers


@dataclass(slots=True)
class LayerCost:
    """Cost of one streaming kernel for one inference."""

    style: str                 # kernel style the backend emits for this layer
    ii: int                    # cycles between successive inferences
    latency: int               # cycles from its first input to its last output, in isolation
    first_out: int             # cycles from its first input to its first output
    dsp: float = 0.0
    lut: float = 0.0
    ff: float = 0.0
    bram_18k: float = 0.0
    uram: float = 0.0
    detail: dict = field(default_factory=dict)

    def resources(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in RESOURCES}


def cost_fields(c: LayerCost, lut_y: float, ff_y: float) -> tuple[tuple, dict]:
    """A cost prepared without its output width's terms (lut_y, ff_y per output bit, last) as
    a tuple of plain values, which the garbage collector stops tracking (search loops keep
    many as memo values), and its detail apart."""
    return (c.style, c.ii, c.latency, c.first_out, c.dsp, c.lut, c.ff, c.bram_18k, c.uram, lut_y, ff_y), c.detail


def with_output_bits(f: tuple, detail: dict, y_bits: int) -> LayerCost:
    """cost_fields's cost at a y_bits-wide output."""
    return LayerCost(f[0], f[1], f[2], f[3], f[4], f[5] + y_bits * f[9], f[6] + y_bits * f[10], f[7], f[8], detail)


def device_share(resources: dict, available: dict, caps: dict | None = None) -> float:
    """How much of the allowed device a cost takes: its largest share of any resource's cap
    (the one that decides whether a design fits) plus a quarter of the sum of its shares
    (so the others still count); what 'cheaper' means when the compiler chooses between
    shapes or kernels. A resource the device lacks counts prohibitively."""
    total, worst = 0.0, 0.0
    for k in RESOURCES:
        used = resources[k]
        if available[k]:
            share = used / ((caps or {}).get(k, 1.0) * available[k])
        else:
            share = 1e6 * used
        total += share
        worst = max(worst, share)
    return worst + 0.25 * total


@dataclass(slots=True)
class NetworkCost:
    names: tuple[str, ...]     # per layer: node name,
    descs: tuple[str, ...]     # description,
    costs: list[LayerCost]     # and cost (kept apart: search loops hold many of these)
    ii: int
    latency: int
    clock_mhz: float
    totals: dict[str, float]
    available: dict[str, int]

    @property
    def layers(self) -> list[tuple[str, str, LayerCost]]:
        """(node name, description, cost) per layer."""
        return list(zip(self.names, self.descs, self.costs))

    @property
    def latency_us(self) -> float:
        return self.latency / self.clock_mhz

    @property
    def ii_us(self) -> float:
        return self.ii / self.clock_mhz

    @property
    def throughput(self) -> float:
        """Inferences per second at the design's initiation interval."""
        return self.clock_mhz * 1e6 / self.ii

    @property
    def utilization(self) -> dict[str, float | None]:
        """Percent of the device; None where the device has none of a resource the design needs."""
        return {k: (100.0 * self.totals[k] / self.available[k]) if self.available[k] else
                (0.0 if self.totals[k] == 0 else None) for k in RESOURCES}

    @property
    def fits(self) -> bool:
        return all(self.totals[k] <= self.available[k] for k in RESOURCES)

    def largest_share(self, resources=("lut", "ff", "dsp", "bram_18k")) -> float:
        """The largest share of the device any of `resources` takes (1.0: full), a search's
        one-number cost (device_share above is folding's, against the caps)."""
        return float(_largest_share(self.totals, self.available, resources))

    @property
    def bottleneck(self) -> str:
        return max(self.layers, key=lambda item: item[2].ii)[0] if self.layers else ""

    def __str__(self) -> str:
        from ..report import format_table

        return format_table(self.as_dict(), header=False)

    def as_dict(self) -> dict:
        layers = []
        for name, desc, c in self.layers:
            d = asdict(c)
            d.update(name=name, op=desc, latency_us=c.latency / self.clock_mhz,
                     utilization={k: 100.0 * getattr(c, k) / self.available[k] if self.available[k] else 0.0
                                  for k in RESOURCES})
            layers.append(d)
        return {"latency_cycles": self.latency, "latency_us": self.latency_us, "ii_cycles": self.ii,
                "ii_us": self.ii_us, "throughput_per_s": self.throughput, "clock_mhz": self.clock_mhz,
                "resources": dict(self.totals), "available": dict(self.available),
                "utilization_pct": self.utilization, "fits": self.fits, "bottleneck": self.bottleneck,
                "layers": layers}


@dataclass
class BatchCost:
    """Network estimates of many configurations (compiler.estimate_batch): one array entry per
    configuration, the same numbers as NetworkCost's."""
    latency: np.ndarray            # cycles
    ii: np.ndarray                 # cycles
    totals: dict[str, np.ndarray]  # per resource
    clock_mhz: float
    available: dict[str, int]

    def __len__(self) -> int:
        return len(self.ii)

    @property
    def latency_us(self) -> np.ndarray:
        return self.latency / self.clock_mhz

    @property
    def ii_us(self) -> np.ndarray:
        return self.ii / self.clock_mhz

    @property
    def throughput(self) -> np.ndarray:
        return self.clock_mhz * 1e6 / self.ii

    @property
    def fits(self) -> np.ndarray:
        return np.logical_and.reduce([self.totals[k] <= self.available[k] for k in RESOURCES])

    def largest_share(self, resources=("lut", "ff", "dsp", "bram_18k")) -> np.ndarray:
        """NetworkCost.largest_share per configuration."""
        return _largest_share(self.totals, self.available, resources)


def _largest_share(totals: dict, available: dict, resources) -> np.ndarray:
    """max over resources of used / available, skipping those the device has none of."""
    return np.max([np.asarray(totals[r], dtype=np.float64) / available[r] for r in resources if available[r]],
                  axis=0)


def compose(layer_costs: list[tuple[str, str, LayerCost]], preds: dict[str, list[str]], clock_mhz: float,
            available: dict[str, int]) -> NetworkCost:
    """Dataflow composition over a DAG given in topological order.

    A stage emits its first output `first_out` cycles after its first input arrives, and its
    last output `drain = latency - ii + 1` cycles after its last input, so along any path
        t_first(n) = max_p t_first(p) + first_out(n)
        t_last(n)  = max(t_first(n) + latency(n) - first_out(n), max_p t_last(p) + drain(n)).
    For single-vector layers (MLPs) this is the sum of latencies; for streams it overlaps
    the stages. The interval is the slowest stage's.
    """
    t_first: dict[str, int] = {}
    t_last: dict[str, int] = {}
    for name, _, c in layer_costs:
        ps = preds.get(name, [])
        start = max((t_first[p] for p in ps), default=0)
        upstream_done = max((t_last[p] for p in ps), default=0)
        t_first[name] = start + c.first_out
        t_last[name] = max(t_first[name] + c.latency - c.first_out, upstream_done + max(c.latency - c.ii + 1, 1))
    totals = {k: float(sum(getattr(c, k) for _, _, c in layer_costs)) for k in RESOURCES}
    return NetworkCost(names=tuple(n for n, _, _ in layer_costs), descs=tuple(d for _, d, _ in layer_costs),
                       costs=[c for _, _, c in layer_costs], ii=max((c.ii for _, _, c in layer_costs), default=1),
                       latency=max(t_last.values(), default=0), clock_mhz=clock_mhz, totals=totals,
                       available=dict(available))


def distinct_keys(*arrays) -> tuple[list[tuple], np.ndarray]:
    """The distinct keys of int arrays read elementwise (a key: one entry of each) and, per
    entry, the index of its key. The keys are packed into one integer per entry (mixed radix
    over each column's range), so finding the distinct ones is one pass over a table of the
    packed range, or one sort when that range is large."""
    cols = [np.asarray(a, dtype=np.int64).reshape(-1) for a in arrays]
    n = len(cols[0])
    if n == 0:
        return [], np.zeros(0, dtype=np.int64)
    ranges, total = [], 1
    for c in cols:
        lo = int(c.min())
        ranges.append((lo, int(c.max()) - lo + 1))
        total *= ranges[-1][1]
    if total >= 1 << 62:  # too wide to pack: rows of columns
        distinct, inverse = np.unique(np.stack(cols, axis=1), axis=0, return_inverse=True)
        return [tuple(r) for r in distinct.tolist()], inverse.reshape(-1)
    packed = np.zeros(n, dtype=np.int64)
    for c, (lo, span) in zip(cols, ranges):
        packed = packed * span + (c - lo)
    if total <= max(4 * n, 1 << 16):
        present = np.zeros(total, dtype=bool)
        present[packed] = True
        distinct = np.flatnonzero(present)
        inverse = (np.cumsum(present) - 1)[packed]
    else:
        distinct, inverse = np.unique(packed, return_inverse=True)
    keys = []
    for p in distinct.tolist():
        key = []
        for lo, span in reversed(ranges):
            p, r = divmod(p, span)
            key.append(lo + r)
        keys.append(tuple(reversed(key)))
    return keys, inverse.reshape(-1)
