// qcompile: quantizers in integer arithmetic.
//
//   q = clamp(round_shift(x_code * m + o, s) [+ zp if s <= 0], lo, hi) - zp   (per channel m, o, s, lo, hi, zp;
//       o holds the zero point on the product's grid where s > 0: it is rounded with the value)
//   bipolar: q = x >= thr ? +1 : -1   (flipped channels: x <= thr ? +1 : -1)
// Codes are the raw bits of the ap_fixed values; round_shift implements the rounding
// modes with the same decision table as compiler/numerics/requant.py.
#ifndef QC_QUANT_H
#define QC_QUANT_H

#include "qc_common.h"

namespace qc {

enum RoundMode { TRN = 0, TRN_ZERO, RND, RND_ZERO, RND_MIN_INF, RND_INF, RND_CONV, CEIL, UP };

// The integer code of a fixed-point value (its raw bits, sign-extended when signed).
template <int W, bool S> struct Code;
template <int W> struct Code<W, true> {
    template <class T> static ap_int<W + 1> of(const T &v) {
        ap_int<W> s = v.range(W - 1, 0);
        return s;
    }
};
template <int W> struct Code<W, false> {
    template <class T> static ap_int<W + 1> of(const T &v) {
        ap_uint<W> u = v.range(W - 1, 0);
        return u;
    }
};

// v * 2^-s rounded to an integer (s <= 0: an exact left shift). The callers unroll over
// channels with constant shifts, so in hardware every lane's shifts are wiring.
template <int MODE, int W> ap_int<W> round_shift(ap_int<W> v, int s) {
    if (s <= 0) return v << (-s);
    ap_int<W> fl = v >> s;
    ap_int<W> one = 1;
    ap_int<W> rest = v & ((one << s) - 1);
    bool first = ((rest >> (s - 1)) & 1) != 0;
    bool sticky = (rest & ((one << (s - 1)) - 1)) != 0;
    bool neg = v < 0;
    bool inc = false;
    switch (MODE) {
        case TRN: inc = false; break;
        case TRN_ZERO: inc = neg && (first || sticky); break;
        case RND: inc = first; break;
        case RND_ZERO: inc = first && (neg || sticky); break;
        case RND_MIN_INF: inc = first && sticky; break;
        case RND_INF: inc = first && (!neg || sticky); break;
        case RND_CONV: inc = first && (fl[0] || sticky); break;
        case CEIL: inc = first || sticky; break;
        case UP: inc = !neg && (first || sticky); break;
    }
    return fl + inc;
}

// Channel c = g * FOLD + lane of a beat (g cycles over the item's G = C / FOLD beats); the
// per-channel parameters are stored one beat's worth per memory word.
template <class CFG, class IN_V, class OUT_V>
void quant(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::mult_t m[CFG::channels],
           const typename CFG::offset_t o[CFG::channels], const typename CFG::shift_t sh[CFG::channels],
           const typename CFG::bound_t lo[CFG::channels], const typename CFG::bound_t hi[CFG::channels],
           const typename CFG::zp_t zp[CFG::channels]) {
    static unsigned g = 0;
Beats:
    for (unsigned it = 0; it < CFG::items * CFG::groups; it++) {
#pragma HLS PIPELINE II=1 rewind
        IN_V x = in.read();
        OUT_V y;
        for (unsigned l = 0; l < CFG::fold; l++) {
#pragma HLS UNROLL
            const unsigned c = (CFG::groups == 1 ? 0 : g) * CFG::fold + l;
            ap_int<CFG::prod_bits> p = Code<CFG::x_width, CFG::x_signed>::of(x.data[l]);
            ap_int<CFG::prod_bits> mc = m[c];
            p = p * mc + o[c];
            ap_int<CFG::prod_bits> q = round_shift<CFG::mode, CFG::prod_bits>(p, sh[c].to_int());
            if (sh[c] <= 0) q += zp[c];
            if (q < lo[c]) q = lo[c];
            if (q > hi[c]) q = hi[c];
            q -= zp[c];
            y.data[l].range(CFG::y_width - 1, 0) = q;
        }
        out.write(y);
        g = (g + 1 == CFG::groups) ? 0 : g + 1;
    }
}

// Multi-threshold quantizer (compiler/ops/_threshold.py):
//   y = base[c] + (neg[c] ? -1 : 1) * STEP * #{ j : code(x) >= thr[c][j] }
// thr[c] holds N_THR ascending thresholds on the input's integer code; no multiplier.
template <class CFG, class IN_V, class OUT_V>
void thresholds(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::thr_t thr[],
                const typename CFG::base_t base[CFG::channels], const ap_ufixed<1, 1> neg[CFG::channels]) {
    const unsigned NT = CFG::n_thr;
    static unsigned g = 0;
Beats:
    for (unsigned it = 0; it < CFG::items * CFG::groups; it++) {
#pragma HLS PIPELINE II=1 rewind
        IN_V x = in.read();
        OUT_V y;
        for (unsigned l = 0; l < CFG::fold; l++) {
#pragma HLS UNROLL
            const unsigned c = (CFG::groups == 1 ? 0 : g) * CFG::fold + l;
            const ap_int<CFG::x_width + 1> xc = Code<CFG::x_width, CFG::x_signed>::of(x.data[l]);
            ap_ufixed<1, 1> passed[NT];
#pragma HLS ARRAY_PARTITION variable=passed complete
            for (unsigned j = 0; j < NT; j++) {
#pragma HLS UNROLL
                passed[j] = xc >= thr[c * NT + j] ? 1 : 0;
            }
            const ap_int<CFG::y_width + 2> n = Tree<NT, ap_ufixed<1, 1> >::sum(passed);
            const ap_int<CFG::y_width + 2> step = n * CFG::step;
            const ap_int<CFG::y_width + 2> q = base[c] + (neg[c] != 0 ? ap_int<CFG::y_width + 2>(-step) : step);
            y.data[l].range(CFG::y_width - 1, 0) = q;
        }
        out.write(y);
        g = (g + 1 == CFG::groups) ? 0 : g + 1;
    }
}

}  // namespace qc

#endif
