"""Fast what-if estimates of a compiled design, for search loops and auto-folding.

Everything static (contexts, topology, baseline per-layer costs, the MAC layers' prepared
cost formulas from Op.what_if) is prepared once per design; an estimate re-evaluates only
the layers its overrides touch (MAC layers through their prepared formula, the others
memoized) and composes the network with the same rule as the report (a configuration seen
before is returned from a second memo). Overrides, per layer name:
    reuse_factor: int     parallelism of MAC layers (1 = fully parallel)
    weight_bits: int      weight width (the accumulator follows)
    act_bits: int         output width (the layers reading it see it as their input width)
    pruning: float        fraction of zero weights (unrolled kernels skip them)
With no overrides the result is exactly the report's. Returned costs are shared with the
memo: treat them as read-only. estimate_batch takes a population of configurations at once
and returns arrays (MAC layers costed by MacArray.batch, their formula over numpy arrays).
"""
from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np

from ..errors import CompileError
from ..numerics import FixedType
from ..ops.base import CostContext
from .model import RESOURCES, BatchCost, LayerCost, NetworkCost

KNOWN = ("reuse_factor", "weight_bits", "act_bits", "pruning")
KNOWN_SET = frozenset(KNOWN)
MEMO_SIZE = 1 << 20  # per-layer results kept (a LayerCost is a few hundred bytes)
NETWORK_MEMO_SIZE = 1 << 16  # whole-network results kept


class Estimator:
    def __init__(self, graph, target):
        g = graph
        self.target = target
        self.nodes = g.nodes()
        self.index = {n.name: i for i, n in enumerate(self.nodes)}
        self.ctx = [CostContext(node=n, inputs=g.in_tensors(n), outputs=g.out_tensors(n), target=target)
                    for n in self.nodes]
        producers = {t: i for i, n in enumerate(self.nodes) for t in n.outputs}
        self.preds = [[producers[t] for t in n.inputs if t in producers] for n in self.nodes]
        # per layer: (reader, the tensors it reads from this layer)
        self.readers = [[] for _ in self.nodes]
        for i, n in enumerate(self.nodes):
            for p in dict.fromkeys(self.preds[i]):
                self.readers[p].append((i, tuple(t for t in self.nodes[p].outputs if t in n.inputs)))
        self.base = [n.op.cost(c) for n, c in zip(self.nodes, self.ctx)]
        self.names = tuple(n.name for n in self.nodes)
        self.descs = tuple(n.op.describe() for n in self.nodes)
        self.choices = [n.op.fold_choices(target) for n in self.nodes]
        self.choice_sets = [frozenset(c) if c else None for c in self.choices]
        self.what_if = [n.op.what_if(c) for n, c in zip(self.nodes, self.ctx)]
        self.in_bits = [c.inputs[0].type.width if c.inputs else 0 for c in self.ctx]
        self.out_bits = [c.outputs[0].type.width if c.outputs else 0 for c in self.ctx]
        self._memo: dict = {}
        self._networks: dict = {}
        self._retyped: dict = {}

    def layer_cost(self, i: int, ov: dict, in_bits: dict) -> LayerCost:
        """Cost of layer i under its own (validated) overrides and its inputs' widths {tensor: bits}."""
        f = self.what_if[i]
        if f is not None:  # a prepared formula: cheaper than a memo key
            x_bits = next(iter(in_bits.values())) if in_bits else self.in_bits[i]
            return f(ov, x_bits, ov.get("act_bits", self.out_bits[i]))
        key = (i, ov.get("act_bits"), tuple(sorted(in_bits.items())) if len(in_bits) > 1 else tuple(in_bits.items()))
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        c = self.ctx[i]
        inputs = c.inputs
        if in_bits:
            inputs = [self.retyped(t, in_bits[t.name]) if t.name in in_bits else t for t in c.inputs]
        outputs = c.outputs
        if "act_bits" in ov:
            outputs = [self.retyped(t, ov["act_bits"]) for t in c.outputs]
        cost = self.nodes[i].op.cost(CostContext(c.node, inputs, outputs, self.target))
        if len(self._memo) >= MEMO_SIZE:  # forget the oldest half (dicts keep insertion order)
            for k in list(itertools.islice(self._memo, MEMO_SIZE // 2)):
                del self._memo[k]
        self._memo[key] = cost
        return cost

    def retyped(self, t, bits: int):
        """Tensor record t with a `bits`-bit type (same integer bits and modes), shared."""
        key = (t.name, bits)
        r = self._retyped.get(key)
        if r is None:
            ty = t.type
            r = self._retyped[key] = dataclasses.replace(
                t, type=FixedType(bits, ty.int_bits, ty.signed, ty.rounding, ty.overflow))
        return r

    def estimate(self, overrides: dict | None = None) -> NetworkCost:
        if not overrides:
            return self.compose(self.base)
        if not isinstance(overrides, dict):
            raise CompileError(f"overrides must be a dict {{layer: {{knob: value}}}}, got {type(overrides).__name__}")
        try:  # a configuration seen before (searches revisit them) is one lookup
            key = self._key(overrides)
            hit = self._networks.get(key)
        except (AttributeError, TypeError):  # not a dict of dicts of plain values: validated below
            key = hit = None
        if hit is not None:
            return hit
        net = self._estimate(overrides)
        if key is not None:
            if len(self._networks) >= NETWORK_MEMO_SIZE:  # forget the oldest half
                for k in list(itertools.islice(self._networks, NETWORK_MEMO_SIZE // 2)):
                    del self._networks[k]
            self._networks[key] = net
        return net

    @staticmethod
    def _key(overrides: dict) -> tuple:
        """One flat tuple of atoms (cheap for the garbage collector to hold in the memo); values
        that are not ints appear as their repr, so that True or 2.0 never find 1's or 2's entry."""
        key = []
        add = key.append
        for name, ov in overrides.items():
            add(name)
            add(len(ov))
            for k, v in ov.items():
                add(k)
                add(v if type(v) is int else repr(v))
        return tuple(key)

    def _estimate(self, overrides: dict) -> NetworkCost:
        costs = list(self.base)
        for i, ov, in_bits in self.changes(overrides):
            costs[i] = self.layer_cost(i, ov, in_bits)
        return self.compose(costs)

    def changes(self, overrides: dict) -> list[tuple[int, dict, dict]]:
        """The layers a configuration changes, validated: (layer, its overrides, its inputs'
        widths {tensor: bits}) for each overridden layer and each reader of a re-typed output."""
        index, readers, nodes = self.index, self.readers, self.nodes
        widths: dict[int, dict] = {}
        for name, ov in overrides.items():
            i = index.get(name)
            if i is None:
                raise CompileError(f"override for unknown layer {name!r} (layers: {', '.join(self.names)})")
            check_overrides(name, nodes[i].op, ov, self.choice_sets[i])
            bits = ov.get("act_bits")
            if bits is not None:
                for r, tensors in readers[i]:
                    w = widths.get(r)
                    if w is None:
                        w = widths[r] = {}
                    for t in tensors:
                        w[t] = bits
        out = [(index[name], ov, widths.pop(index[name], {})) for name, ov in overrides.items()]
        out += [(i, {}, w) for i, w in widths.items()]  # readers of a re-typed tensor, no overrides of their own
        return out

    def estimate_batch(self, configs) -> BatchCost:
        """Many configurations at once (a search's population), equal to estimate() on each.
        Configurations with the same layers and knobs are handled together, column by
        column: values validated per column, MAC layers costed by their formula over arrays,
        other changed layers once per distinct setting; the network is composed with numpy."""
        configs = list(configs)
        n = len(configs)
        groups: dict = {}
        for k, overrides in enumerate(configs):
            try:
                shape = (tuple(overrides), tuple(map(tuple, overrides.values())))
            except (AttributeError, TypeError):
                raise CompileError(f"configuration {k}: overrides must be a dict {{layer: {{knob: value}}}}, "
                                   f"got {overrides!r}") from None
            groups.setdefault(shape, []).append(k)
        fields = {f: [np.full(n, getattr(c, f)) for c in self.base] for f in ("ii", "latency", "first_out", *RESOURCES)}
        for (names, knobs), ks in groups.items():
            if names:
                self._batch_group(names, knobs, ks, [configs[k] for k in ks], fields)
        # compose: the dataflow rule of compose() on arrays (one entry per configuration)
        t_first, t_last = [], []
        zero = np.zeros(n, dtype=np.int64)
        for i, ps in enumerate(self.preds):
            ii, lat, first = fields["ii"][i], fields["latency"][i], fields["first_out"][i]
            start = functools.reduce(np.maximum, [t_first[p] for p in ps]) if ps else zero
            done = functools.reduce(np.maximum, [t_last[p] for p in ps]) if ps else zero
            t_first.append(start + first)
            t_last.append(np.maximum(start + lat, done + np.where(lat > ii, lat - ii + 1, 1)))
        return BatchCost(latency=functools.reduce(np.maximum, t_last, zero),
                         ii=functools.reduce(np.maximum, fields["ii"], np.ones(n, dtype=np.int64)),
                         totals={r: np.sum(fields[r], axis=0) if fields[r] else np.zeros(n) for r in RESOURCES},
                         clock_mhz=self.target.clock_mhz, available=self.target.resources)

    def _batch_group(self, names, knobs, ks: list[int], group: list[dict], fields: dict) -> None:
        """Costs of the layers that configurations of one shape change, into fields[f][layer][ks]."""
        columns: dict[int, dict] = {}
        for name, layer_knobs in zip(names, knobs):
            i = self.index.get(name)
            if i is None:
                raise CompileError(f"configuration {ks[0]}: override for unknown layer {name!r} "
                                   f"(layers: {', '.join(self.names)})")
            columns[i] = {}
            for knob in layer_knobs:
                values = [cfg[name][knob] for cfg in group]
                if not _column_ok(knob, values, self.choice_sets[i]):
                    for k, cfg in zip(ks, group):  # the first bad value, with check_overrides's message
                        try:
                            check_overrides(name, self.nodes[i].op, cfg[name], self.choice_sets[i])
                        except CompileError as e:
                            raise CompileError(f"configuration {k}: {e}") from None
                columns[i][knob] = values
        # the layers whose input a re-typed output feeds, and those widths per configuration
        inputs: dict[int, dict] = {}
        for p, cols in columns.items():
            if "act_bits" in cols:
                for r, tensors in self.readers[p]:
                    inputs.setdefault(r, {}).update((t, cols["act_bits"]) for t in tensors)
        where = np.asarray(ks)
        for i in dict.fromkeys([*columns, *inputs]):
            cols, widths = columns.get(i, {}), inputs.get(i, {})
            f = self.what_if[i]
            if hasattr(f, "batch"):  # MAC layers: their formula over arrays
                x = np.asarray(next(iter(widths.values())), dtype=np.int64) if widths else \
                    np.full(len(ks), self.in_bits[i])
                y = np.asarray(cols.get("act_bits", np.full(len(ks), self.out_bits[i])), dtype=np.int64)
                arrays = {knob: np.asarray(v) for knob, v in cols.items() if knob != "act_bits"}
                for field, values in f.batch(arrays, x, y).items():
                    fields[field][i][where] = values
                continue
            knob_names, tensor_names = tuple(cols), tuple(widths)
            distinct: dict = {}  # setting -> its row
            codes = [distinct.setdefault(setting, len(distinct)) for setting in zip(*cols.values(), *widths.values())]
            rows = [self.layer_cost(i, dict(zip(knob_names, setting)), dict(zip(tensor_names, setting[len(knob_names):])))
                    for setting in distinct]
            for field in fields:
                fields[field][i][where] = np.array([getattr(c, field) for c in rows])[codes]

    def compose(self, costs: list[LayerCost]) -> NetworkCost:
        """compiler.cost.model.compose, specialised to the prepared topology (same rule)."""
        n = len(costs)
        t_first, t_last = [0] * n, [0] * n
        ii, dsp, lut, ff, bram, uram = 1, 0.0, 0.0, 0.0, 0.0, 0.0
        preds = self.preds
        for i in range(n):
            c = costs[i]
            ps = preds[i]
            if not ps:
                start = done = 0
            elif len(ps) == 1:
                start, done = t_first[ps[0]], t_last[ps[0]]
            else:
                start, done = max(t_first[p] for p in ps), max(t_last[p] for p in ps)
            first = start + c.first_out
            t_first[i] = first
            last = first + c.latency - c.first_out
            drain = done + (c.latency - c.ii + 1 if c.latency > c.ii else 1)
            t_last[i] = last if last > drain else drain
            if c.ii > ii:
                ii = c.ii
            dsp += c.dsp
            lut += c.lut
            ff += c.ff
            bram += c.bram_18k
            uram += c.uram
        return NetworkCost(names=self.names, descs=self.descs, costs=costs, ii=ii, latency=max(t_last, default=0),
                           clock_mhz=self.target.clock_mhz,
                           totals={"dsp": dsp, "lut": lut, "ff": ff, "bram_18k": bram, "uram": uram},
                           available=self.target.resources)


def check_overrides(name: str, op, ov: dict, choices) -> None:
    """Refuse what-if values that mean nothing for this layer, with the layer and the valid range
    (choices: the layer's reuse factors, None for a layer without weights)."""
    if type(ov) is not dict:
        raise CompileError(f"layer {name!r}: overrides must be a dict of {', '.join(KNOWN)}, got {ov!r}")
    for key, value in ov.items():  # the common, valid case first: search loops call this per layer
        kind = type(value)
        if key == "act_bits":
            if kind is int and 1 <= value <= 53:
                continue
        elif choices is not None:
            if key == "reuse_factor":
                if kind is int and value in choices:
                    continue
            elif key == "weight_bits":
                if kind is int and 1 <= value <= 32:
                    continue
            elif key == "pruning":
                if (kind is float or kind is int) and 0 <= value < 1:
                    continue
        _refuse(name, op, key, value, choices)


def _refuse(name: str, op, key: str, value, choices) -> None:
    if isinstance(value, np.generic) and key in KNOWN_SET:
        raise CompileError(f"layer {name!r}: {key}={value!r} is a numpy {type(value).__name__}; pass a Python "
                           f"number ({key}={value.item()!r})")
    if key not in KNOWN_SET:
        raise CompileError(f"layer {name!r}: unknown override {key!r} (supported: {', '.join(KNOWN)})")
    if key == "act_bits":
        raise CompileError(f"layer {name!r}: act_bits={value!r} (supported: integers 1..53)")
    if choices is None:
        raise CompileError(f"layer {name!r} ({op.kind}) has no {key} (only layers with weights do)")
    if key == "reuse_factor":
        raise CompileError(f"layer {name!r}: reuse_factor={value!r} (supported: {', '.join(map(str, sorted(choices)))})")
    if key == "weight_bits":
        raise CompileError(f"layer {name!r}: weight_bits={value!r} (supported: integers 1..32)")
    raise CompileError(f"layer {name!r}: pruning={value!r} (supported: a fraction in [0, 1))")


def _column_ok(knob: str, values: list, choices) -> bool:
    """check_overrides's rules for one knob's values across many configurations at once."""
    types = set(map(type, values))
    if knob == "pruning":
        return choices is not None and types <= {int, float} and 0 <= min(values) and max(values) < 1
    if types != {int}:
        return False
    if knob == "act_bits":
        return 1 <= min(values) and max(values) <= 53
    if choices is None:
        return False
    if knob == "reuse_factor":
        return set(values) <= choices
    return knob == "weight_bits" and 1 <= min(values) and max(values) <= 32
