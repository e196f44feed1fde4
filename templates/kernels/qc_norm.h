// qcompile: LayerNormalization (whole items) and InstanceNormalization (a frame buffer).
// Over P values x: S1 = sum x, S2 = sum x^2 (exact); U = (P S2 - S1^2) 2^FU + E (exact
// but for E, rounded once); 1/sqrt(U) = RSQ[par, 10 bits of U below its leading one] * 2^-q
// with U = 2^(2q + par) m; per value c = P x - S1, t = (c * RSQ) shifted to ZF fraction
// bits (truncated), y = t * gamma + beta (exact), rounded once to the output type.
// The compiler's simulator (compiler/ops/layer_norm.py) models every step bit for bit.
#ifndef QC_NORM_H
#define QC_NORM_H

#include "qc_common.h"

namespace qc {

// Per group of P values: the table entry r and the shift s that turn c * r into t.
template <class CFG>
void norm_stats(const typename CFG::s1_t &s1, const typename CFG::s2_t &s2, const typename CFG::rsq_t rsq[],
                typename CFG::rsq_t &r, int &s) {
#pragma HLS INLINE
    const int UW = CFG::u_t::width, VW = CFG::v_t::width, RB = CFG::rsq_bits;
    const int RF = CFG::rsq_t::width - CFG::rsq_t::iwidth;
    const int ZF = CFG::z_t::width - CFG::z_t::iwidth;
    const typename CFG::v_t v = s2 * CFG::p - s1 * s1;
    ap_uint<UW> u = ap_uint<VW>(v.range(VW - 1, 0));
    u <<= CFG::u_frac;
    u += ap_uint<UW>(CFG::e_code);
    if (u == 0) u = 1;
    int lead = 0;
Lead:
    for (int b = 0; b < UW; b++) {
#pragma HLS UNROLL
        if (u[b]) lead = b;
    }
    const int e = lead - CFG::u_frac;
    const int par = e & 1;
    const int q = (e - par) / 2;
    ap_uint<RB> m = lead >= RB ? ap_uint<RB>(u >> (lead - RB)) : ap_uint<RB>(u << (RB - lead));
    r = rsq[(ap_uint<RB + 1>(par) << RB) | m];
    s = RF + q - ZF;
}

template <class CFG>
typename CFG::acc_t norm_out(const typename CFG::x_t &x, const typename CFG::s1_t &s1, const typename CFG::rsq_t &r,
                             int s, const typename CFG::gamma_t &g, const typename CFG::beta_t &b) {
#pragma HLS INLINE
    const int PW = CFG::prod_t::width, ZW = CFG::z_t::width, SW = CFG::sw;
    const typename CFG::c_t c = x * CFG::p - s1;
    const typename CFG::prod_t prod = c * r;
    ap_int<PW> raw;
    raw.range(PW - 1, 0) = prod.range(PW - 1, 0);
    ap_int<SW> w = raw;
    if (s >= 0) w >>= s;
    else w <<= -s;
    typename CFG::z_t t;
    t.range(ZW - 1, 0) = w.range(ZW - 1, 0);
    const typename CFG::acc_t acc = t * g + b;
    return acc;
}

template <class CFG, class IN_V, class OUT_V>
void layer_norm(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::rsq_t rsq[],
                const typename CFG::gamma_t gamma[], const typename CFG::beta_t beta[]) {
    const unsigned N = CFG::p;
Items:
    for (unsigned it = 0; it < CFG::items; it++) {
#pragma HLS PIPELINE II=1 rewind
        IN_V x = in.read();
        typename CFG::s1_t s1 = 0;
        typename CFG::s2_t s2 = 0;
    Sums:
        for (unsigned i = 0; i < N; i++) {
#pragma HLS UNROLL
            s1 += x.data[i];
            s2 += x.data[i] * x.data[i];
        }
        typename CFG::rsq_t r;
        int s;
        norm_stats<CFG>(s1, s2, rsq, r, s);
        OUT_V y;
    Norm:
        for (unsigned i = 0; i < N; i++) {
#pragma HLS UNROLL
            y.data[i] = norm_out<CFG>(x.data[i], s1, r, s, gamma[i], beta[i]);
        }
        out.write(y);
    }
}

template <class CFG, class IN_V, class OUT_V>
void instance_norm(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::rsq_t rsq[],
                   const typename CFG::gamma_t gamma[], const typename CFG::beta_t beta[]) {
    const unsigned K = CFG::fold, G = CFG::groups, BEATS = CFG::p * CFG::groups;
    static IN_V buf[BEATS];
    static typename CFG::s1_t s1[G][K];
    static typename CFG::s2_t s2[G][K];
    static typename CFG::rsq_t r[G][K];
    static int sh[G][K];
#pragma HLS ARRAY_PARTITION variable=s1 complete dim=2
#pragma HLS ARRAY_PARTITION variable=s2 complete dim=2
#pragma HLS ARRAY_PARTITION variable=r complete dim=2
#pragma HLS ARRAY_PARTITION variable=sh complete dim=2
    unsigned g = 0;
Load:
    for (unsigned t = 0; t < BEATS; t++) {
#pragma HLS PIPELINE II=1
        IN_V x = in.read();
        buf[t] = x;
        for (unsigned k = 0; k < K; k++) {
#pragma HLS UNROLL
            const bool first = t < G;
            const typename CFG::s1_t a1 = first ? typename CFG::s1_t(0) : s1[g][k];
            const typename CFG::s2_t a2 = first ? typename CFG::s2_t(0) : s2[g][k];
            s1[g][k] = a1 + x.data[k];
            s2[g][k] = a2 + x.data[k] * x.data[k];
        }
        step(g, G);
    }
Stats:
    for (unsigned j = 0; j < G; j++) {
#pragma HLS PIPELINE II=1
        for (unsigned k = 0; k < K; k++) {
#pragma HLS UNROLL
            norm_stats<CFG>(s1[j][k], s2[j][k], rsq, r[j][k], sh[j][k]);
        }
    }
    g = 0;
Out:
    for (unsigned t = 0; t < BEATS; t++) {
#pragma HLS PIPELINE II=1
        const IN_V x = buf[t];
        OUT_V y;
        for (unsigned k = 0; k < K; k++) {
#pragma HLS UNROLL
            y.data[k] = norm_out<CFG>(x.data[k], s1[g][k], r[g][k], sh[g][k], gamma[g * K + k], beta[g * K + k]);
        }
        out.write(y);
        step(g, G);
    }
}

}  // namespace qc

#endif
