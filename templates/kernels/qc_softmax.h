// qcompile: softmax and log-softmax over the channels of each item, with lookup tables.
//
//   d_i = max(x) - x_i, truncated to 12 fraction bits and clamped below 16
//   e_i = EXP_HI[d_i >> 8] * EXP_LO[d_i & 255]          ~ exp(-d_i)
//   S = sum e_i; p = position of the leading one of S
//   r = RECIP[10 bits of S below the leading one]        ~ 2^(p - F_E) / S
//   y_i = (e_i * r) * 2^(F_E - p), rounded once to the output type
// The compiler's simulator models every step above bit for bit.
#ifndef QC_SOFTMAX_H
#define QC_SOFTMAX_H

#include "qc_common.h"

namespace qc {

// The front Softmax and LogSoftmax share: d_i = m - x_i (exact), e_i ~ exp(-d_i), their
// exact sum S, and p = the position of the leading one of S.
template <class CFG, class IN_V>
typename CFG::sum_t exp_sum(const IN_V &x, typename CFG::d_src_t d[], typename CFG::e_t e[],
                            const typename CFG::table_t exp_hi[], const typename CFG::table_t exp_lo[], int &p) {
#pragma HLS INLINE
    const unsigned N = CFG::n;
    const int SW = CFG::sum_t::width;
    typename CFG::x_t m = x.data[0];
Max:
    for (unsigned i = 1; i < N; i++) {
#pragma HLS UNROLL
        if (x.data[i] > m) m = x.data[i];
    }
    typename CFG::sum_t s = 0;
Exp:
    for (unsigned i = 0; i < N; i++) {
#pragma HLS UNROLL
        d[i] = m - x.data[i];
        typename CFG::d_t dq = d[i];
        ap_uint<CFG::d_t::width> di = dq.range(CFG::d_t::width - 1, 0);
        e[i] = exp_hi[di >> CFG::lo_bits] * exp_lo[di & ((1 << CFG::lo_bits) - 1)];
        s += e[i];
    }
    ap_uint<SW> sr = s.range(SW - 1, 0);
    p = 0;
Lead:
    for (int b = 0; b < SW; b++) {
#pragma HLS UNROLL
        if (sr[b]) p = b;
    }
    return s;
}

template <class CFG, class IN_V, class OUT_V>
void softmax(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::table_t exp_hi[],
             const typename CFG::table_t exp_lo[], const typename CFG::recip_t recip[]) {
    const unsigned N = CFG::n;
    const int F_E = CFG::e_t::width - CFG::e_t::iwidth;
    const int SW = CFG::sum_t::width;
    const int WW = CFG::wide_t::width;
Items:
    for (unsigned it = 0; it < CFG::items; it++) {
#pragma HLS PIPELINE II=1 rewind
        IN_V x = in.read();
        typename CFG::d_src_t d[N];
        typename CFG::e_t e[N];
#pragma HLS ARRAY_PARTITION variable=d complete
#pragma HLS ARRAY_PARTITION variable=e complete
        int p;
        typename CFG::sum_t s = exp_sum<CFG>(x, d, e, exp_hi, exp_lo, p);
        ap_uint<SW> sr = s.range(SW - 1, 0);
        ap_uint<CFG::recip_bits> idx = sr >> (p - CFG::recip_bits);
        typename CFG::recip_t r = recip[idx];
        const int k = p - F_E;
        OUT_V y;
    Norm:
        for (unsigned i = 0; i < N; i++) {
#pragma HLS UNROLL
            ap_uint<WW> raw = (e[i] * r).range();
            raw <<= (CFG::k_max - k);
            typename CFG::wide_t w;
            w.range(WW - 1, 0) = raw;
            y.data[i] = w;
        }
        out.write(y);
    }
}

// LogSoftmax: y_i = -(d_i + L), L = ln S = LNK[p - F_E + 1] + LOG[10 bits of S below its
// leading one]: (p - F_E) ln 2 from a small table (S >= 1/2, so p - F_E >= -1) plus the
// mantissa's logarithm, sampled mid-interval; d_i exact, one rounding to the output.
template <class CFG, class IN_V, class OUT_V>
void log_softmax(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::table_t exp_hi[],
                 const typename CFG::table_t exp_lo[], const typename CFG::log_t log_m[],
                 const typename CFG::l_t lnk[]) {
    const unsigned N = CFG::n;
    const int F_E = CFG::e_t::width - CFG::e_t::iwidth;
    const int SW = CFG::sum_t::width;
Items:
    for (unsigned it = 0; it < CFG::items; it++) {
#pragma HLS PIPELINE II=1 rewind
        IN_V x = in.read();
        typename CFG::d_src_t d[N];
        typename CFG::e_t e[N];
#pragma HLS ARRAY_PARTITION variable=d complete
#pragma HLS ARRAY_PARTITION variable=e complete
        int p;
        typename CFG::sum_t s = exp_sum<CFG>(x, d, e, exp_hi, exp_lo, p);
        ap_uint<SW> sr = s.range(SW - 1, 0);
        ap_uint<CFG::recip_bits> idx = sr >> (p - CFG::recip_bits);
        const typename CFG::l_t L = log_m[idx] + lnk[p - F_E + 1];
        OUT_V y;
    Out:
        for (unsigned i = 0; i < N; i++) {
#pragma HLS UNROLL
            const typename CFG::w_t w = -(d[i] + L);
            y.data[i] = w;
        }
        out.write(y);
    }
}

}  // namespace qc

#endif
