"""Fast what-if estimates of a compiled design, for search loops and auto-folding.

Everything static (contexts, topology, stream widths, baseline per-layer costs, the MAC
layers' prepared cost formulas from Op.what_if) is prepared once per design; an estimate
re-evaluates only the layers its overrides touch and the layers whose input changed width
(bits, or beat width: a MAC array's PE is the width of its output stream, which per-channel
stages after it run at, up to the next reader that converts it), and composes the network
with the same rule as the report. A configuration seen before is returned from a memo.
Overrides, per layer name (compiler.settings validates them):
    reuse_factor: int     cycles per item of a MAC layer (1 = fully parallel)
    pe, simd: int         the MAC array's output and input lanes (instead of reuse_factor)
    memory: str           its weight memory ("auto", "bram", "lutram")
    weight_bits: int      weight width (the accumulator follows)
    act_bits: int         output width (the layers reading it see it as their input width)
    pruning: float        fraction of zero weights (fully parallel arrays skip them)
With no overrides the result is exactly the report's. Returned costs are shared with the
memo: treat them as read-only. estimate_batch takes a population of configurations at once
and returns arrays (each layer costed once per distinct setting in the population).
A layer's cost includes the width converters in front of its inputs.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import operator

import numpy as np

from ..errors import CompileError
from ..numerics import FixedType
from ..settings import check_overrides, column_ok
from .hardware import width_converter, with_converters
from .model import FIELDS, RESOURCES, BatchCost, LayerCost, NetworkCost, cost_fields, distinct_keys, with_output_bits

MEMO_SIZE = 1 << 20  # per-layer results kept (a LayerCost is a few hundred bytes)
NETWORK_MEMO_SIZE = 1 << 16  # whole-network results kept


class Estimator:
    def __init__(self, graph, target):
        from ..ops.base import CostContext

        g = graph
        self._context = CostContext
        self.target = target
        self.nodes = g.nodes()
        self.index = {n.name: i for i, n in enumerate(self.nodes)}
        self.ins = [g.in_tensors(n) for n in self.nodes]
        self.outs = [g.out_tensors(n) for n in self.nodes]
        self.in_shapes = [[t.shape for t in ts] for ts in self.ins]
        self.out_shapes = [[t.shape for t in ts] for ts in self.outs]
        producers = {t: (i, k) for i, n in enumerate(self.nodes) for k, t in enumerate(n.outputs)}
        # per layer and input: (producing layer, its output index), or ("in", name) for a graph
        # input, whose width its first reader chooses (FREE: None to the op's stream rule)
        self.sources = [[producers.get(t, ("in", t)) for t in n.inputs] for n in self.nodes]
        self.first_reader = {}
        for i, n in enumerate(self.nodes):
            for t in n.inputs:
                if t not in producers:
                    self.first_reader.setdefault(("in", t), i)
        # per layer, the inputs it reads first of the graph inputs (their width is its choice)
        self.free_inputs = [tuple(k for k, t in enumerate(n.inputs) if self.first_reader.get(("in", t)) == i)
                            for i, n in enumerate(self.nodes)]
        self.in_names = [tuple(t.name for t in ts) for ts in self.ins]
        self.preds = [[producers[t][0] for t in n.inputs if t in producers] for n in self.nodes]
        self.names = tuple(n.name for n in self.nodes)
        self.descs = tuple(n.op.describe() for n in self.nodes)
        self.choices = [n.op.fold_choices(target) for n in self.nodes]
        self.choice_sets = [frozenset(c) if c else None for c in self.choices]
        self.shape_sets = [frozenset(n.op.mac_shapes(target)) if hasattr(n.op, "mac_shapes") else None
                           for n in self.nodes]
        self.in_bits = [c[0].type.width if c else 0 for c in self.ins]
        self.out_bits = [c[0].type.width if c else 0 for c in self.outs]
        # a tensor arrives at the width its producer writes (the ops' stream rules, as
        # passes/assign_streams.py assigns them: the same before that pass runs, e.g. while
        # folding); a graph input at its recorded width
        self.arriving, self.native, self.out_folds = [], [], []
        written: dict = {}
        for i, n in enumerate(self.nodes):
            arriving = [written.get(t.name, t.beat) for t in self.ins[i]]
            native, out = n.op.stream_folds(self.in_shapes[i], self.out_shapes[i], arriving)
            self.arriving.append(arriving)
            self.native.append(native)
            self.out_folds.append(out)
            written.update((t.name, f) for t, f in zip(self.outs[i], out))
        self.what_if = [n.op.what_if(self._ctx(i, self.ins[i], self.outs[i], self.native[i], self.out_folds[i]))
                        for i, n in enumerate(self.nodes)]
        assert all(len(self.ins[i]) == len(self.outs[i]) == 1 for i, f in enumerate(self.what_if) if f is not None)
        self._memo: dict = {}
        self._networks: dict = {}
        self._retyped: dict = {}
        self._converters: dict = {}
        self._stream_memo: dict = {}
        # MAC layers: per setting, the cost but its output width's terms, and its detail apart
        self._cores: list[dict] = [{} for _ in self.nodes]
        self._details: list[list] = [[] for _ in self.nodes]
        self.base = [self._cost_at(i, {}, {}, self.arriving[i]) for i in range(len(self.nodes))]

    def forget(self) -> None:
        """Empty the memos (per-layer costs and whole networks), as a fresh estimator's."""
        self._memo.clear()
        self._networks.clear()
        for memo, details in zip(self._cores, self._details):
            memo.clear()
            details.clear()

    @property
    def memo_entries(self) -> int:
        """Per-layer results kept (non-MAC layers' costs and MAC layers' settings)."""
        return len(self._memo) + sum(map(len, self._cores))

    def _ctx(self, i, inputs, outputs, native, out):
        return self._context(node=self.nodes[i], inputs=inputs, outputs=outputs, target=self.target,
                             in_folds=list(native), out_folds=list(out))

    # ---- per-layer costs -------------------------------------------------------------------
    def folds_of(self, i: int, ov: dict, arriving: list) -> tuple[list, list]:
        """(native input widths, output widths) of layer i under its overrides."""
        f = self.what_if[i]
        if f is not None:
            native, out = f.folds(ov, arriving[0])
            return [native], [out]
        key = (i, tuple(arriving))
        hit = self._stream_memo.get(key)
        if hit is None:
            hit = self._stream_memo[key] = self.nodes[i].op.stream_folds(self.in_shapes[i], self.out_shapes[i],
                                                                          arriving)
        return hit

    def converter(self, bits: int, a: int, n: int, beats: int) -> LayerCost:
        key = (bits, a, n, beats)
        c = self._converters.get(key)
        if c is None:
            c = self._converters[key] = width_converter(self.target, bits, a, n, beats)
        return c

    def _cost_at(self, i: int, ov: dict, in_bits: dict, arriving: list, folds=None) -> LayerCost:
        """Layer i's cost, converters included, under its overrides, its inputs' widths
        {tensor: bits} and the beat widths they arrive at (folds: folds_of's answer, if known)."""
        if self.what_if[i] is not None:
            x_bits = next(iter(in_bits.values())) if in_bits else self.in_bits[i]
            return self._mac_cost(i, ov, x_bits, arriving[0])[0]
        key = (i, ov.get("act_bits"), tuple(sorted(in_bits.items())), tuple(arriving))
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        native, out = folds or self.folds_of(i, ov, arriving)
        inputs = self.ins[i]
        if in_bits:
            inputs = [self.retyped(t, in_bits[t.name]) if t.name in in_bits else t for t in inputs]
        outputs = self.outs[i]
        if "act_bits" in ov:
            outputs = [self.retyped(t, ov["act_bits"]) for t in outputs]
        cost = self.nodes[i].op.cost(self._ctx(i, inputs, outputs, native, out))
        cost = self._converted(i, cost, in_bits, arriving, native)
        if len(self._memo) >= MEMO_SIZE:  # forget the oldest half (dicts keep insertion order)
            for k in list(itertools.islice(self._memo, MEMO_SIZE // 2)):
                del self._memo[k]
        self._memo[key] = cost
        return cost

    def _mac_cost(self, i: int, ov: dict, x_bits: int, arriving: int | None) -> tuple[LayerCost, int, int]:
        """A MAC layer's (cost, converter included; native input width; output width) from its
        prepared formula, kept per setting but the output width (searches vary every layer's:
        the rest repeats)."""
        f = self.what_if[i]
        key = f.key(ov, x_bits, arriving)
        memo = self._cores[i]
        hit = memo.get(key)
        if hit is None:
            fields, detail, native, out = f.core(ov, x_bits, arriving)
            if arriving is not None and arriving != native:
                cost = with_converters(with_output_bits(fields, detail, 0),
                                       [self.converter(x_bits, arriving, native, self.ins[i][0].size // arriving)])
                fields, detail = cost_fields(cost, *fields[-2:])  # the same per-output-bit terms
            details = self._details[i]
            if len(memo) >= MEMO_SIZE // 16:
                memo.clear()
                details.clear()
            memo[key] = hit = (fields, native, out, len(details))
            details.append(detail)
        fields, native, out, d = hit
        return with_output_bits(fields, self._details[i][d], ov.get("act_bits", self.out_bits[i])), native, out

    def _converted(self, i, cost, in_bits, arriving, native) -> LayerCost:
        if arriving == native:
            return cost
        convs = []
        for t, a, n in zip(self.ins[i], arriving, native):
            if a is not None and a != n:
                convs.append(self.converter(in_bits.get(t.name, t.type.width), a, n, t.size // a))
        return with_converters(cost, convs)

    def layer_cost(self, i: int, ov: dict, in_bits: dict, arriving: list | None = None) -> LayerCost:
        """Cost of layer i under its own (validated) overrides, its inputs' widths and beat widths."""
        return self._cost_at(i, ov, in_bits, self.arriving[i] if arriving is None else arriving)

    def retyped(self, t, bits: int):
        """Tensor record t with a `bits`-bit type (same integer bits and modes), shared."""
        key = (t.name, bits)
        r = self._retyped.get(key)
        if r is None:
            ty = t.type
            r = self._retyped[key] = dataclasses.replace(
                t, type=FixedType(bits, ty.int_bits, ty.signed, ty.rounding, ty.overflow))
        return r

    # ---- whole networks --------------------------------------------------------------------
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
        net = self.compose(self._walk(overrides))
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

    def validate(self, name: str, ov) -> int:
        i = self.index.get(name)
        if i is None:
            raise CompileError(f"override for unknown layer {name!r} (layers: {', '.join(self.names)})")
        check_overrides(name, self.nodes[i].op, ov, self.choice_sets[i], self.shape_sets[i])
        return i

    def changes(self, overrides: dict) -> list[tuple]:
        """The layers a configuration changes, validated: (layer, its overrides, its inputs'
        widths {tensor: bits}, the beat widths its inputs arrive at) for each overridden layer
        and each layer reading a re-typed or re-folded tensor, in topological order."""
        rows: list = []
        self._walk(overrides, rows)
        return rows

    def _walk(self, overrides: dict, rows: list | None = None) -> list[LayerCost]:
        """Per-layer costs under a configuration (validated): from the first overridden layer
        on, each layer that it overrides or whose input it re-types or re-folds is costed
        again; new widths and beat widths travel to the readers. rows: changes()'s rows."""
        own = {}
        for name, ov in overrides.items():
            own[self.validate(name, ov)] = ov
        last = max(own)
        costs = list(self.base)
        bits: dict = {}   # source -> new width in bits
        folds: dict = {}  # source -> new beat width
        sources, base_arriving, free, out_folds, what_if = \
            self.sources, self.arriving, self.free_inputs, self.out_folds, self.what_if
        for i in range(min(own), len(self.nodes)):
            ov = own.get(i)
            srcs = sources[i]
            if ov is None:
                if not (bits or folds):
                    if i > last:
                        break
                    continue
                for s in srcs:
                    if s in bits or s in folds:
                        break
                else:
                    continue
                ov = {}
            free_k = free[i]
            if what_if[i] is not None and rows is None:  # one input, one output: the lean path
                s = srcs[0]
                x = bits.get(s, self.in_bits[i]) if bits else self.in_bits[i]
                a = None if free_k else (folds.get(s, base_arriving[i][0]) if folds else base_arriving[i][0])
                costs[i], native, out = self._mac_cost(i, ov, x, a)
                if free_k and native != base_arriving[i][0]:
                    folds[s] = native
                if out != out_folds[i][0]:
                    folds[(i, 0)] = out
                if "act_bits" in ov:
                    bits[(i, 0)] = ov["act_bits"]
                continue
            in_bits = {}
            if bits:
                names = self.in_names[i]
                for k, s in enumerate(srcs):
                    b = bits.get(s)
                    if b is not None:
                        in_bits[names[k]] = b
            arriving = base_arriving[i]  # shared: never changed in place
            if free_k or folds:
                arriving = list(arriving)
                for k, s in enumerate(srcs):
                    if k in free_k:
                        arriving[k] = None
                    elif s in folds:
                        arriving[k] = folds[s]
            native, new_out = layer_folds = self.folds_of(i, ov, arriving)
            costs[i] = self._cost_at(i, ov, in_bits, arriving, layer_folds)
            if rows is not None:
                rows.append((i, ov, in_bits, arriving))
            if "act_bits" in ov:
                for k in range(len(self.outs[i])):
                    bits[(i, k)] = ov["act_bits"]
            for k in free_k:  # a graph input arrives at its first reader's width
                if native[k] != base_arriving[i][k]:
                    folds[srcs[k]] = native[k]
            base_out = out_folds[i]
            for k, f in enumerate(new_out):
                if f != base_out[k]:
                    folds[(i, k)] = f
        return costs

    def estimate_batch(self, configs) -> BatchCost:
        """Many configurations at once (a search's population), equal to estimate() on each.
        Configurations with the same layers and knobs are handled together, column by
        column: values validated per column, each changed layer costed once per distinct
        setting (knobs, input widths, input beat widths) and the network composed with numpy."""
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
        fields = {f: [np.full(n, getattr(c, f)) for c in self.base] for f in FIELDS}
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
        m = len(ks)
        columns: dict[int, dict] = {}
        for name, layer_knobs in zip(names, knobs):
            i = self.index.get(name)
            if i is None:
                raise CompileError(f"configuration {ks[0]}: override for unknown layer {name!r} "
                                   f"(layers: {', '.join(self.names)})")
            columns[i] = {}
            layer_rows = list(map(operator.itemgetter(name), group))
            for knob in layer_knobs:
                values = list(map(operator.itemgetter(knob), layer_rows))
                if not column_ok(knob, values, self.choice_sets[i], self.shape_sets[i]):
                    for k, cfg in zip(ks, group):  # the first bad value, with check_overrides's message
                        try:
                            check_overrides(name, self.nodes[i].op, cfg[name], self.choice_sets[i],
                                            self.shape_sets[i])
                        except CompileError as e:
                            raise CompileError(f"configuration {k}: {e}") from None
                columns[i][knob] = values
            cols = columns[i]
            if "pe" in cols or "simd" in cols:  # valid knob by knob, but together? (a PE with another SIMD)
                shape_cols = {k: cols[k] for k in ("reuse_factor", "pe", "simd") if k in cols}
                seen = set()
                for k, combo in enumerate(zip(*shape_cols.values())):
                    if combo in seen:
                        continue
                    seen.add(combo)
                    try:
                        check_overrides(name, self.nodes[i].op, dict(zip(shape_cols, combo)), self.choice_sets[i],
                                        self.shape_sets[i])
                    except CompileError as e:
                        raise CompileError(f"configuration {ks[k]}: {e}") from None
        where = np.asarray(ks)
        bits: dict = {}   # (layer, output) -> array of widths
        folds: dict = {}  # (layer, output) -> array of beat widths
        for i in range(min(columns), len(self.nodes)):
            cols = columns.get(i)
            srcs = self.sources[i]
            if cols is None and not any(s in bits or s in folds for s in srcs):
                continue
            cols = cols or {}
            in_bits = {self.ins[i][k].name: bits[s] for k, s in enumerate(srcs) if s in bits}
            # 0: a graph input its first reader reads at the width it chooses
            arriving = [np.zeros(m, dtype=np.int64) if self.first_reader.get(s) == i else
                        folds[s] if s in folds else np.full(m, self.arriving[i][k]) for k, s in enumerate(srcs)]
            f = self.what_if[i]
            if f is not None:  # MAC layers: their formula over arrays
                x = np.asarray(next(iter(in_bits.values())), dtype=np.int64) if in_bits else \
                    np.full(m, self.in_bits[i], dtype=np.int64)
                y = np.asarray(cols.get("act_bits", np.full(m, self.out_bits[i])), dtype=np.int64)
                knob_arrays = {k: (v if k == "memory" else np.asarray(v)) for k, v in cols.items() if k != "act_bits"}
                values, native, pe = f.batch(knob_arrays, x, y, np.asarray(arriving[0], dtype=np.int64))
                values = self._converters_batch(i, values, x, np.asarray(arriving[0], dtype=np.int64), native)
                for field in FIELDS:
                    fields[field][i][where] = values[field]
                outs_k = [pe]
                natives_k = [native]
            else:  # one cost (and one set of output widths) per distinct setting of the layer
                distinct, index = distinct_keys(*cols.values(), *in_bits.values(), *arriving)  # knobs: act_bits
                knob_names, tensor_names, n_knobs, n_t = tuple(cols), tuple(in_bits), len(cols), len(in_bits)
                rows, outs, natives = [], [], []
                for s in distinct:
                    ov = dict(zip(knob_names, s[:n_knobs]))
                    tb = dict(zip(tensor_names, s[n_knobs:n_knobs + n_t]))
                    arr = [a or None for a in s[n_knobs + n_t:]]
                    rows.append(self._cost_at(i, ov, tb, arr))
                    native, out_f = self.folds_of(i, ov, arr)
                    outs.append(out_f)
                    natives.append(native)
                for field in FIELDS:
                    fields[field][i][where] = np.array([getattr(c, field) for c in rows])[index]
                outs_k = [np.array([o[k] for o in outs])[index] for k in range(len(self.outs[i]))]
                natives_k = [np.array([nat[k] for nat in natives])[index] for k in range(len(self.ins[i]))]
            for k, s in enumerate(srcs):
                if self.first_reader.get(s) == i and np.any(natives_k[k] != self.arriving[i][k]):
                    folds[s] = natives_k[k]
            if "act_bits" in cols:
                for k in range(len(self.outs[i])):
                    bits[(i, k)] = np.asarray(cols["act_bits"])
            for k in range(len(self.outs[i])):
                new = outs_k[k]
                if np.any(new != self.out_folds[i][k]) or (i, k) in folds:
                    folds[(i, k)] = new

    def _converters_batch(self, i: int, values: dict, x_bits, arriving, native) -> dict:
        """with_converters over arrays: a width converter where the input arrives at another
        width than the layer reads (arriving 0: a graph input, read as it is chosen)."""
        t = self.ins[i][0]
        need = (arriving != 0) & (arriving != native)
        if not np.any(need):
            return values
        keys = np.stack([x_bits, arriving, native], axis=1)
        distinct, inverse = np.unique(keys[need], axis=0, return_inverse=True)
        convs = [self.converter(int(b), int(a), int(n), t.size // int(a)) for b, a, n in distinct]
        out = dict(values)
        sel = np.flatnonzero(need)
        table = {f: np.array([getattr(c, f) for c in convs], dtype=np.float64)[inverse.reshape(-1)]
                 for f in ("ii", "latency", "first_out", "lut", "ff", "bram_18k")}
        ii, lat, first = values["ii"][sel], values["latency"][sel], values["first_out"][sel]
        lead, drain = table["first_out"], table["latency"] - table["first_out"]
        for f in ("ii", "latency", "first_out", "lut", "ff", "bram_18k"):
            out[f] = np.array(values[f], dtype=np.float64)
        out["ii"][sel] = np.maximum(ii, table["ii"])
        out["latency"][sel] = np.maximum(lat + lead, lead + drain + 1)
        out["first_out"][sel] = first + lead
        for f in ("lut", "ff", "bram_18k"):
            out[f][sel] = values[f][sel] + table[f]
        return out

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
