"""Lookup-table activations (Sigmoid, Tanh, Elu/Selu, Softplus): the shared table design,
simulator, HLS context and cost. Registers no op; sigmoid.py, tanh.py, elu.py and
softplus.py subclass LutActivation.

Indexing (identical in the simulator and in qc::lut_activation, templates/kernels/qc_activation.h):

    c   = the input's integer code (F = its fraction bits)
    u   = |c|                 magnitude table: covers |x| in [0, 2**r)
          c + 2**(r+F)        full table:      covers  x  in [-2**r, 2**r)
    u   = clamp(u, 0, 2**(R+F) - 1)          R = r (magnitude) or r + 1 (full)
    idx = u >> (R + F - n)                   2**n entries; the top n bits of u
    t   = TABLE[idx]                         on the output's grid (see table_grid)

so an entry stands for a contiguous run of input codes (every code exactly when R + F <= n,
e.g. for narrow quantized inputs), and inputs beyond the span clamp to the last entry. Each
entry holds the minimax constant of the function over the real inputs that reach it,
(g(first) + g(last)) / 2 (the functions are monotone on each side of zero, or declare the
points where they turn: then an entry holding one takes (max + min) / 2 over its run including
the extremum, and the error is also measured either side of it), rounded once
with the output's own rounding mode; beyond the table the function is within its
asymptote's tolerance. The value is then finished per op ("mode"):

    plain       y = t                          (full tables; magnitude tables of even functions, |x|**p)
    complement  y = x < 0 ? 1 - t : t          (sigmoid(-x) = 1 - sigmoid(x), magnitude table)
    odd         y = x < 0 ? -t : t             (tanh(-x) = -tanh(x))
    softplus    y = max(x, 0) + t              (softplus(x) = max(x, 0) + log(1 + exp(-|x|)))
    linear      y = x < 0 ? t : x * scale      (Elu/Selu: table for x < 0, exact product for x >= 0)

computed exactly in a type v_t holding every result, then cast once to the output type.
Mirroring keeps a single rounding only when rounding commutes with the mirror (round-to-
nearest modes, no ties): the design checks that on every entry and otherwise, where the op
allows, falls back to a full table.

Table design: for each candidate span r (|x| < 2**r, up to 2**MAX_RANGE_BITS, or the whole
input type for unbounded functions: max_range_bits) and shape (full_only: Exp),
with n = min(MAX_INDEX_BITS, R + F) index bits, the error is measured at every table
interval's ends (where a constant approximation of a monotone function peaks); the
smallest table whose error is within 1% + lsb(y)/8 of the best is kept. The stated
`max_error` is then measured on every input code (or, for inputs wider than 18 bits, on
the interval ends, clamp edges and sweeps: see _activation.probe_codes).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..numerics import FixedType, exact_type
from ..numerics.fixed import MAX_WIDTH
from ._activation import (max_abs_error, monotone_pieces_bounds, probe_codes, require_unit_scale,
                          widened)
from ._lanes import LaneOp, lane_context, lane_cost
from .base import CostContext, HlsContext, TypingContext

MAX_INDEX_BITS = 10    # 1024 entries: one BRAM_18K per copy at <= 18-bit entries
MAX_RANGE_BITS = 6     # spans beyond |x| < 64 never help: every function here is at its asymptote
MODES = {"plain": 0, "complement": 1, "odd": 2, "softplus": 3, "linear": 4}


@dataclass(frozen=True)
class LutPlan:
    full: bool          # index x + 2**r over [-2**r, 2**r), else |x| over [0, 2**r)
    range_bits: int     # r
    index_bits: int     # n
    x_frac: int         # F
    base: int | None = None   # full tables of functions negligible below some x (Exp): the lowest code covered

    @property
    def span(self) -> int:          # bits of u
        return self.range_bits + int(self.full) + self.x_frac

    @property
    def shift(self) -> int:
        return self.span - self.index_bits

    @property
    def offset(self) -> int:
        if self.full and self.base is not None:
            return -self.base                 # covers codes base .. base + 2**span - 1
        return (1 << (self.range_bits + self.x_frac)) if self.full else 0

    @property
    def umax(self) -> int:
        return (1 << self.span) - 1

    @property
    def entries(self) -> int:
        return 1 << self.index_bits

    def index(self, c: np.ndarray) -> np.ndarray:
        u = c + self.offset if self.full else np.abs(c)
        return np.clip(u, 0, self.umax) >> self.shift

    def argument(self, u: np.ndarray) -> np.ndarray:
        """Real value of the table argument (|x| or x) for u codes."""
        return np.ldexp((u - self.offset).astype(np.float64), -self.x_frac)

    def entry_ranges(self, x_type: FixedType) -> tuple[np.ndarray, np.ndarray]:
        """First and last u (unclamped) reaching each entry, over the input type's codes."""
        if self.full:
            reach_lo, reach_hi = x_type.min_code + self.offset, x_type.max_code + self.offset
        else:
            reach_lo = 0 if x_type.min_code <= 0 else x_type.min_code
            reach_hi = max(-x_type.min_code, x_type.max_code)
        i = np.arange(self.entries, dtype=np.int64)
        lo, hi = i << self.shift, ((i + 1) << self.shift) - 1
        lo[0], hi[-1] = min(lo[0], reach_lo), max(hi[-1], reach_hi)   # clamped inputs land at the ends
        a, b = np.maximum(lo, reach_lo), np.minimum(hi, reach_hi)
        empty = a > b
        a[empty] = b[empty] = np.clip(lo[empty], reach_lo, reach_hi)
        return a, b

    def endpoint_codes(self, x_type: FixedType) -> np.ndarray:
        """Input codes at both ends of every entry's run (where a monotone function's error peaks)."""
        a, b = self.entry_ranges(x_type)
        u = np.concatenate([a, b])
        x = u - self.offset if self.full else np.concatenate([u, -u])
        x = np.concatenate([x, [x_type.min_code, x_type.max_code, 0, 1, -1]])
        return np.unique(x[(x >= x_type.min_code) & (x <= x_type.max_code)])


@dataclass
class LutParts:
    """Everything the simulator, the template and the cost model need of one table design."""

    plan: LutPlan
    mode: str
    table: np.ndarray          # int64 codes
    table_type: FixedType
    v_type: FixedType          # holds every finished value exactly
    scale_codes: np.ndarray    # (1,) multiplier of the linear mode (unused otherwise)
    scale_type: FixedType
    scaled: bool

    def run(self, x_type: FixedType, y_type: FixedType):
        plan, mode, table = self.plan, self.mode, self.table
        ft, fv, fx = self.table_type.frac_bits, self.v_type.frac_bits, x_type.frac_bits
        v_type, sq, fs = self.v_type, self.scale_codes, self.scale_type.frac_bits

        def run(ins):
            c = ins[0].astype(np.int64)
            t = table[plan.index(c)]
            neg = c < 0
            if mode == "complement":
                v = np.where(neg, (1 << ft) - t, t)
            elif mode == "odd":
                v = np.where(neg, -t, t)
            elif mode == "softplus":
                v = t + np.where(neg, 0, c << (fv - fx))
            elif mode == "linear":
                pos = c * sq[0] if self.scaled else c
                v = np.where(neg, t << (fv - ft), pos << (fv - fx - (fs if self.scaled else 0)))
            else:
                v = t
            return [y_type.cast(v, v_type).astype(np.float64)]

        return run


@dataclass
class LutActivation(LaneOp):
    """Base of the table-based activations (not registered itself)."""

    mode: ClassVar[str] = "plain"        # how a magnitude table is finished (see the module docstring)
    full_fallback: ClassVar[bool] = False  # may use a full table when mirroring is not exact
    full_only: ClassVar[bool] = False      # a full table always (no symmetry to use: Exp)
    max_range_bits: ClassVar[int] = MAX_RANGE_BITS  # widest span; unbounded functions (Exp, Pow) cover the input type

    max_error: float | None = None       # measured when typed (report: max_abs_error)
    table_entries: int | None = None
    lut_full: bool | None = None
    lut_range_bits: int | None = None
    lut_index_bits: int | None = None
    lut_base: int | None = None          # a full table's lowest code (table_floor), else symmetric

    # ---- what a concrete op defines -------------------------------------------------
    def f(self, x: np.ndarray) -> np.ndarray:
        """The float function (float64, elementwise)."""
        raise NotImplementedError

    def g(self, arg: np.ndarray) -> np.ndarray:
        """What a magnitude table holds, as a function of |x| (or of -x for negative-side tables)."""
        raise NotImplementedError

    def default_output_type(self, ctx: TypingContext) -> FixedType:
        raise NotImplementedError

    def prepare(self, ctx: TypingContext, x_type: FixedType, y_type: FixedType) -> None:
        """Quantize op constants once the output type is known (Elu's scale)."""

    def linear_scale(self) -> tuple[np.ndarray, FixedType, bool]:
        """(codes, type, scaled) of the linear mode's multiplier; unused by other modes."""
        return np.zeros(1, dtype=np.int64), FixedType(1, 1, False), False

    def table_grid(self, x_type: FixedType, y_type: FixedType) -> tuple[int, str]:
        """Fraction bits and rounding of table entries: the output's (one rounding). In the
        softplus mode (max(x, 0) + t) an input with more fraction bits than the output keeps
        the table on the input's grid (rounded to nearest); the sum is rounded once more."""
        if self.mode == "softplus" and x_type.frac_bits > y_type.frac_bits:
            return x_type.frac_bits, "AP_RND_CONV"
        return y_type.frac_bits, y_type.rounding

    def function_name(self) -> str:
        return self.kind

    def table_floor(self, y_type: FixedType) -> float | None:
        """For full tables: an x below which the function stays within lsb(y)/4 of its value
        there (Exp: exp(x) < lsb/4 rounds to 0), so the table starts there and spends every
        entry above it; inputs below clamp into the first entry. None: symmetric span."""
        return None

    def turning_points(self, full: bool) -> tuple[float, ...]:
        """Table arguments (x for a full table, |x| for a magnitude one) where the tabulated
        function (f, or g) changes direction; between them it is monotone. An entry holding
        one gets the minimax constant over its run including the extremum, and the error is
        measured on the input codes either side of it (Gelu's minimum)."""
        return ()

    def probe_points(self, plan: LutPlan, x_type: FixedType) -> np.ndarray:
        """Input codes where a table design's error peaks: every entry's ends, the clamp
        edges and the codes either side of each turning point."""
        codes = [plan.endpoint_codes(x_type)]
        for p in self.turning_points(plan.full):
            k = np.array([np.floor(p * 2.0 ** x_type.frac_bits), np.ceil(p * 2.0 ** x_type.frac_bits)])
            k = np.clip(k, -2.0 ** 62, 2.0 ** 62).astype(np.int64)
            codes.append(k if plan.full else np.concatenate([k, -k]))
        x = np.unique(np.concatenate(codes))
        return x[(x >= x_type.min_code) & (x <= x_type.max_code)]

    # ---- float semantics ---------------------------------------------------------------
    def reference(self, xs):
        with np.errstate(over="ignore", under="ignore"):
            return [self.f(np.asarray(xs[0], dtype=np.float64))]

    def bounds(self, ins):
        with np.errstate(over="ignore", under="ignore"):
            return [widened(monotone_pieces_bounds(self.f, ins[0]), self.max_error)]

    def describe(self) -> str:
        if self.table_entries is None:
            return f"{self.function_name()} (LUT)"
        r = self.lut_range_bits
        span = f"-2^{r}<=x<2^{r}" if self.lut_full else f"|x|<2^{r}"
        if self.lut_full and self.lut_base is not None:
            span = f"from code {self.lut_base}, 2^{r + 1} wide"
        return f"{self.function_name()} (LUT {self.table_entries}, {span})"

    # ---- table design ------------------------------------------------------------------
    def plan(self, x_type: FixedType) -> LutPlan:
        return LutPlan(bool(self.lut_full), int(self.lut_range_bits), int(self.lut_index_bits), x_type.frac_bits,
                       None if self.lut_base is None else int(self.lut_base))

    def parts(self, plan: LutPlan, x_type: FixedType, y_type: FixedType) -> LutParts | None:
        """The table and types of one design; None when the design is not exact (mirror)."""
        mode = "plain" if plan.full else self.mode
        a, b = plan.entry_ranges(x_type)
        fn = self.f if plan.full else self.g
        with np.errstate(over="ignore", under="ignore"):
            ga, gb = fn(plan.argument(a)), fn(plan.argument(b))
            top, bottom = np.maximum(ga, gb), np.minimum(ga, gb)
            for p in self.turning_points(plan.full):   # an extremum inside an entry's run
                at = np.array([p], dtype=np.float64)
                inside = (plan.argument(a) <= p) & (p <= plan.argument(b))
                gp = fn(at)[0]
                top, bottom = np.where(inside, np.maximum(top, gp), top), np.where(inside, np.minimum(bottom, gp), bottom)
            m = (top + bottom) / 2
        ft, rounding = self.table_grid(x_type, y_type)
        if ft > MAX_WIDTH - 2 or not np.all(np.isfinite(m)):
            return None
        grid = FixedType(MAX_WIDTH, MAX_WIDTH - ft, True, rounding, "AP_SAT")
        t = grid.quantize(m)
        if mode in ("complement", "odd"):
            if mode == "complement" and ft < 0:
                return None
            mirrored = grid.quantize(1.0 - m if mode == "complement" else -m)
            want = ((1 << ft) - t) if mode == "complement" else -t
            if not np.array_equal(mirrored, want):
                return None  # rounding does not commute with the mirror: one rounding would become two
        table_type = exact_type(min(int(t.min()), 0), max(int(t.max()), 0), ft)
        sq, s_type, scaled = self.linear_scale()
        fx = x_type.frac_bits
        tl, th = int(t.min()), int(t.max())
        if mode == "complement":
            lo, hi, fv = min(tl, (1 << ft) - th), max(th, (1 << ft) - tl), ft
        elif mode == "odd":
            lo, hi, fv = min(tl, -th), max(th, -tl), ft
        elif mode == "softplus":
            fv = ft
            lo, hi = tl, th + (max(x_type.max_code, 0) << (fv - fx))
        elif mode == "linear":
            fp = fx + (s_type.frac_bits if scaled else 0)
            fv = max(ft, fp)
            xmax = max(x_type.max_code, 0)
            k = int(sq[0]) if scaled else 1
            p = (xmax * k) << (fv - fp)
            lo, hi = min(tl << (fv - ft), 0, p), max(th << (fv - ft), 0, p)
        else:
            lo, hi, fv = tl, th, ft
        v_type = exact_type(min(lo, 0), max(hi, 0), fv)
        return LutParts(plan, mode, t, table_type, v_type, sq, s_type, scaled)

    def _base(self, x_type: FixedType, y_type: FixedType) -> int | None:
        """The lowest code a full table covers (table_floor), when above the input type's."""
        x0 = self.table_floor(y_type)
        if x0 is None or not np.isfinite(x0):
            return None
        base = int(np.floor(x0 * 2.0 ** x_type.frac_bits))
        return base if base > x_type.min_code else None

    def _candidates(self, x_type: FixedType, y_type: FixedType):
        fx = x_type.frac_bits
        maxc = max(-x_type.min_code, x_type.max_code, 1)
        base = self._base(x_type, y_type)
        if base is not None:   # the span from the base to the top, as a symmetric one would be
            maxc = max((x_type.max_code - base + 1) // 2, 1)
        r_x = maxc.bit_length() - fx                   # 2**r_x > max |x|
        r_lo = min(r_x, max(-fx, -4))
        r_hi = max(min(r_x, self.max_range_bits), r_lo)
        shapes = [True] if self.full_only else ([False, True] if self.full_fallback else [False])
        for full in shapes:
            for r in range(r_lo, r_hi + 1):
                span = r + int(full) + fx
                if span < 0 or r + fx < 0:
                    continue
                yield full, r, min(MAX_INDEX_BITS, span)

    def design(self, x_type: FixedType, y_type: FixedType) -> tuple[LutPlan, LutParts]:
        """Choose the table (shape, span, size); see the module docstring."""
        ref = self.reference

        def error(plan):
            parts = self.parts(plan, x_type, y_type)
            if parts is None:
                return None, None
            return max_abs_error(parts.run(x_type, y_type), ref, x_type, y_type,
                                 self.probe_points(plan, x_type)), parts

        first = []
        for full, r, n in self._candidates(x_type, y_type):
            plan = LutPlan(full, r, n, x_type.frac_bits, self._base(x_type, y_type) if full else None)
            err, parts = error(plan)
            if err is not None:
                first.append((plan, err, parts))
        if not first:
            raise ValueError(f"no exact table design for {self.kind} on {x_type} -> {y_type}")
        best = min(e for _, e, _ in first)
        tol = best * 1.01 + y_type.lsb / 8
        chosen = []
        for plan, err, parts in first:
            if err > tol:
                continue
            while plan.index_bits > 0:   # fewer entries while the error stays within tolerance
                smaller = dataclasses.replace(plan, index_bits=plan.index_bits - 1)
                e2, p2 = error(smaller)
                if e2 is None or e2 > tol:
                    break
                plan, err, parts = smaller, e2, p2
            chosen.append((plan.entries, err, plan.full, plan.range_bits, plan, parts))
        _, _, _, _, plan, parts = min(chosen, key=lambda c: c[:4])
        return plan, parts

    # ---- formats ----------------------------------------------------------------------------
    def assign_types(self, ctx: TypingContext) -> None:
        require_unit_scale(ctx)
        x_type, out = ctx.inputs[0].type, ctx.outputs[0]
        if out.type is None:
            out.type = self.default_output_type(ctx)
        self.prepare(ctx, x_type, out.type)
        plan, parts = self.design(x_type, out.type)
        self.lut_full, self.lut_range_bits, self.lut_index_bits = plan.full, plan.range_bits, plan.index_bits
        self.lut_base = plan.base
        self.table_entries = plan.entries
        codes, _ = probe_codes(x_type, self.probe_points(plan, x_type))
        self.max_error = max_abs_error(parts.run(x_type, out.type), self.reference, x_type, out.type, codes)

    def simulator(self, in_types, out_types):
        (x_type,), (y_type,) = in_types, out_types
        return self.parts(self.plan(x_type), x_type, y_type).run(x_type, y_type)

    # ---- hardware -------------------------------------------------------------------------------
    def cost(self, ctx: CostContext):
        """Per lane: the table address (|x| or offset, clamp), the mirror/add/select and the
        output cast; the table is copied once per two lanes (dual-ported ROMs)."""
        from ..cost.hardware import memory, multiplier

        x, y = ctx.inputs[0], ctx.outputs[0]
        lanes = ctx.fold
        p = self.parts(self.plan(x.type), x.type, y.type)
        c = ctx.target.coeff
        copies = table_copies(lanes)
        rom_bram, rom_lut, _ = memory(ctx.target, p.table_type.width, p.plan.entries, banks=copies)
        xw = x.type.width + 2
        per_lane = 2 * xw * c["lut_per_adder_bit"]                      # |x| or offset, clamp
        if p.mode != "plain":
            per_lane += p.v_type.width * c["lut_per_adder_bit"]          # mirror / add / select
        per_lane += y.type.width * 0.5                                   # output cast
        dsp = m_lut = m_ff = 0.0
        if p.mode == "linear" and p.scaled:
            dsp, m_lut, m_ff = multiplier(ctx.target, x.type.width, p.scale_type.width)
        # registers: the table address per lane (a BRAM holds its own output register; a
        # LUT ROM's read is registered in fabric); one cycle for the registered read
        ff_lane = xw + (0 if rom_bram else p.table_type.width) + m_ff
        depth = 1 + (int(c["mult_latency"]) if dsp else 0)
        return lane_cost(ctx, style="activation_lut", lut_per_lane=per_lane + m_lut, ff_per_lane=ff_lane,
                         dsp_per_lane=dsp, depth=depth, bram_18k=rom_bram, extra_lut=rom_lut,
                         detail={"function": self.function_name(), "table_entries": p.plan.entries,
                                 "table_type": p.table_type.cpp(), "table_copies": copies,
                                 "table_shape": "full" if p.plan.full else "magnitude",
                                 "range_bits": p.plan.range_bits})

    def hls(self, ctx: HlsContext) -> dict:
        x, y = ctx.inputs[0], ctx.outputs[0]
        p = self.parts(self.plan(x.type), x.type, y.type)
        copies = table_copies(ctx.fold)
        return dict(lane_context(ctx), x_signed=x.type.signed, full=p.plan.full, mode=MODES[p.mode],
                    mode_name=p.mode, scaled=p.scaled, offset=p.plan.offset, umax=p.plan.umax, shift=p.plan.shift,
                    entries=p.plan.entries, table_type=p.table_type, v_type=p.v_type, scale_type=p.scale_type,
                    copies=copies, table=ctx.constant("table", p.table_type, p.table, word=1, banks=copies),
                    scale=ctx.constant("scale", p.scale_type, p.scale_codes))


def table_copies(lanes: int) -> int:
    """Copies of a lookup table for `lanes` parallel readers: two per dual-ported ROM."""
    return -(-lanes // 2)
