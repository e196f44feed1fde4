// qcompile: exact unary element-wise kernels (Neg, Abs, Sign, Shrink; integer powers x**n).
// One beat per cycle: FOLD lanes; channel c = g * FOLD + lane (g cycles over the item's G = C / FOLD beats).
//
//   unary_exact  CFG::op: 0 neg     v = -x
//                         1 abs     v = x < 0 ? -x : x
//                         2 sign    v = x > 0 ? 1 : x < 0 ? -1 : 0
//                         3 shrink  v = code(x) < lo_code ? x + bias : code(x) > hi_code ? x - bias : 0
//                (the thresholds are -lambd and lambd in the input's integer codes, exact)
//   power        v = x * x * ... * x (n factors), each product exact in p_t
//   sqrt_exact   v = 2 * floor(sqrt(code << shift)) + sticky, the exactly rounded square root
// v is computed exactly in v_t (p_t), then cast once to the output type. The compiler's
// simulator (compiler/ops/negate.py, absolute.py, sign.py, shrink.py, power.py, sqrt.py) models
// every step bit for bit. Table functions (Exp, Erf, Softsign, Gelu, Pow with other
// exponents) use qc::lut_activation (qc_activation.h).
#ifndef QC_UNARY_H
#define QC_UNARY_H

#include "qc_common.h"
#include "qc_activation.h"

namespace qc {

template <class CFG, class IN_V, class OUT_V>
void unary_exact(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::bias_t bias[1]) {
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
            typename CFG::v_t v;
            if (CFG::op == 0) {
                v = -xv;
            } else if (CFG::op == 1) {
                if (xv < 0) {
                    v = -xv;
                } else {
                    v = xv;
                }
            } else if (CFG::op == 2) {
                if (xv > 0) {
                    v = 1;
                } else if (xv < 0) {
                    v = -1;
                } else {
                    v = 0;
                }
            } else {
                ap_int<UW> code = code_of<typename CFG::x_t, CFG::x_signed>(xv);
                if (code < CFG::lo_code) {
                    v = xv + bias[0];
                } else if (code > CFG::hi_code) {
                    v = xv - bias[0];
                } else {
                    v = 0;
                }
            }
            y.data[c] = v;
        }
        out.write(y);
        g = (g + 1 == CFG::groups) ? 0 : g + 1;
    }
}

template <class CFG, class IN_V, class OUT_V>
void power(hls::stream<IN_V> &in, hls::stream<OUT_V> &out) {
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
            typename CFG::p_t p = xv;
        Factors:
            for (int k = 1; k < CFG::n; k++) {
#pragma HLS UNROLL
                p = p * xv;
            }
            y.data[c] = p;
        }
        out.write(y);
        g = (g + 1 == CFG::groups) ? 0 : g + 1;
    }
}

// floor(sqrt(n)) by the restoring digit-by-digit method (two bits of n per step), and
// whether a remainder is left (n is not a perfect square).
template <int NW>
ap_uint<NW / 2> isqrt(ap_uint<NW> n, bool &sticky) {
#pragma HLS INLINE
    const int SW = NW / 2;
    ap_uint<SW> root = 0;
    ap_uint<SW + 3> rem = 0;
Digits:
    for (int i = SW - 1; i >= 0; i--) {
#pragma HLS UNROLL
        rem = (rem << 2) | ap_uint<SW + 3>((n >> (2 * i)) & 3);
        ap_uint<SW + 3> trial = (ap_uint<SW + 3>(root) << 2) | 1;
        if (rem >= trial) {
            rem -= trial;
            root = (root << 1) | 1;
        } else {
            root = root << 1;
        }
    }
    sticky = rem != 0;
    return root;
}

// Sqrt: N = max(code, 0) << shift, v = 2 * isqrt(N) + sticky (raw bits of v_t), cast once.
template <class CFG, class IN_V, class OUT_V>
void sqrt_exact(hls::stream<IN_V> &in, hls::stream<OUT_V> &out) {
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
            if (code < 0) code = 0;
            ap_uint<CFG::nw> n = ap_uint<CFG::nw>(code);
            n = n << CFG::shift;
            bool sticky;
            ap_uint<CFG::sw> root = isqrt<CFG::nw>(n, sticky);
            ap_uint<CFG::sw + 1> bits = (ap_uint<CFG::sw + 1>(root) << 1) | ap_uint<CFG::sw + 1>(sticky ? 1 : 0);
            typename CFG::v_t v;
            v.range(CFG::sw, 0) = bits;
            y.data[c] = v;
        }
        out.write(y);
        g = (g + 1 == CFG::groups) ? 0 : g + 1;
    }
}

}  // namespace qc

#endif
