// qcompile: activation kernels. One beat per cycle: FOLD lanes; channel c = g * FOLD + lane of
// the beat (g cycles over the G = C / FOLD beats of an item).
//
// Piecewise-linear ones are exact integer arithmetic with a single final rounding (the
// assignment to the output type):
//   clip          v = x in a type holding x and both bounds; v = max(v, lo); v = min(v, hi)
//   prelu         a = x < 0 ? x * slope : x                       (exact product)
//   hard_sigmoid  h = clamp(x * alpha + beta, 0, 1); y = h, or x * h for HardSwish (exact)
// Smooth ones read a table indexed by the top bits of the input's code (lut_activation):
//   u = |code(x)| (magnitude table) or code(x) + offset (full table), clamped to [0, umax]
//   t = table[u >> shift], then per mode
//     0 plain:      y = t
//     1 complement: y = x < 0 ? 1 - t : t              (sigmoid)
//     2 odd:        y = x < 0 ? -t : t                 (tanh)
//     3 softplus:   y = x < 0 ? t : x + t
//     4 linear:     y = x < 0 ? t : x * scale (or x)   (elu, selu)
//   each computed exactly in v_t, then cast once to the output type.
// The compiler's simulator (compiler/ops/_lut.py and the ops' files) models every step bit
// for bit.
#ifndef QC_ACTIVATION_H
#define QC_ACTIVATION_H

#include "qc_common.h"

namespace qc {

// The integer code of a fixed-point value (its raw bits, sign-extended when signed), two bits wider.
template <class X, bool SIGNED>
ap_int<X::width + 2> code_of(const X &x) {
#pragma HLS INLINE
    if (SIGNED) {
        ap_int<X::width> s = x.range(X::width - 1, 0);
        return s;
    }
    ap_uint<X::width> u = x.range(X::width - 1, 0);
    return u;
}

template <class CFG, class IN_V, class OUT_V>
void clip(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::v_t bounds[2]) {
    static unsigned g = 0;
Beats:
    for (unsigned it = 0; it < CFG::items * CFG::groups; it++) {
#pragma HLS PIPELINE II=1 rewind
        IN_V x = in.read();
        OUT_V y;
    Lanes:
        for (unsigned c = 0; c < CFG::fold; c++) {
#pragma HLS UNROLL
            typename CFG::v_t v = x.data[c];
            if (CFG::has_lo && v < bounds[0]) v = bounds[0];
            if (CFG::has_hi && v > bounds[1]) v = bounds[1];
            y.data[c] = v;
        }
        out.write(y);
        g = (g + 1 == CFG::groups) ? 0 : g + 1;
    }
}

template <class CFG, class IN_V, class OUT_V>
void prelu(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::slope_t slope[]) {
    static unsigned g = 0;
Beats:
    for (unsigned it = 0; it < CFG::items * CFG::groups; it++) {
#pragma HLS PIPELINE II=1 rewind
        IN_V x = in.read();
        OUT_V y;
    Lanes:
        for (unsigned c = 0; c < CFG::fold; c++) {
#pragma HLS UNROLL
            typename CFG::x_t xv = x.data[c];
            typename CFG::accum_t a;
            if (xv < 0) {
                a = xv * slope[CFG::per_channel ? (CFG::groups == 1 ? 0 : g) * CFG::fold + c : 0];
            } else {
                a = xv;
            }
            y.data[c] = a;
        }
        out.write(y);
        g = (g + 1 == CFG::groups) ? 0 : g + 1;
    }
}

template <class CFG, class IN_V, class OUT_V>
void hard_sigmoid(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::alpha_t alpha[1],
                  const typename CFG::beta_t beta[1]) {
    static unsigned g = 0;
Beats:
    for (unsigned it = 0; it < CFG::items * CFG::groups; it++) {
#pragma HLS PIPELINE II=1 rewind
        IN_V x = in.read();
        OUT_V y;
    Lanes:
        for (unsigned c = 0; c < CFG::fold; c++) {
#pragma HLS UNROLL
            typename CFG::x_t xv = x.data[c];
            typename CFG::accum_t a = xv * alpha[0];
            a += beta[0];
            typename CFG::clamp_t h;
            if (a < 0) {
                h = 0;
            } else if (a > 1) {
                h = 1;
            } else {
                h = a;
            }
            if (CFG::swish) {
                typename CFG::product_t p = xv * h;
                y.data[c] = p;
            } else {
                y.data[c] = h;
            }
        }
        out.write(y);
        g = (g + 1 == CFG::groups) ? 0 : g + 1;
    }
}

template <class CFG, class IN_V, class OUT_V>
void lut_activation(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::table_t table[],
                    const typename CFG::scale_t scale[1]) {
    const int UW = CFG::x_t::width + 2;
    static unsigned g = 0;
Beats:
    for (unsigned it = 0; it < CFG::items * CFG::groups; it++) {
#pragma HLS PIPELINE II=1 rewind
        IN_V x = in.read();
        OUT_V y;
    Lanes:
        for (unsigned c = 0; c < CFG::fold; c++) {
#pragma HLS UNROLL
            typename CFG::x_t xv = x.data[c];
            ap_int<UW> code = code_of<typename CFG::x_t, CFG::x_signed>(xv);
            bool neg = code < 0;
            ap_int<UW> u;
            if (CFG::full) {
                u = code + CFG::offset;
            } else {
                u = neg ? ap_int<UW>(-code) : code;
            }
            if (u < 0) u = 0;
            if (u > CFG::umax) u = CFG::umax;
            typename CFG::table_t t = table[(c / 2) * CFG::entries + (u >> CFG::shift).to_uint()];  // two lanes per copy
            typename CFG::v_t v = t;
            if (CFG::mode == 1 && neg) {
                v = 1 - t;
            } else if (CFG::mode == 2 && neg) {
                v = -t;
            } else if (CFG::mode == 3 && !neg) {
                v = xv + t;
            } else if (CFG::mode == 4 && !neg) {
                if (CFG::scaled) {
                    v = xv * scale[0];
                } else {
                    v = xv;
                }
            }
            y.data[c] = v;
        }
        out.write(y);
        g = (g + 1 == CFG::groups) ? 0 : g + 1;
    }
}

}  // namespace qc

#endif
