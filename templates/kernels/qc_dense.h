// qcompile: MAC array folded by a reuse factor R, shared by Dense and Conv.
//
// The n_in x n_out products of an item take R = RI * RO cycles (compiler/cost/kernels.py
// mac_fold): cycle (ro, ri) multiplies the SIMD = n_in / RI inputs ri*SIMD .. by the weights
// of the PE = n_out / RO outputs ro*PE .., so the PE*SIMD multipliers are wired statically:
// a SIMD lane selects among RI inputs, a PE lane owns one running sum. Each multiplier reads
// its own ROM of R words (the compiler stores the weights cycle-major,
// w[r * BLOCK + p * SIMD + s], and the cyclic partition gives multiplier p*SIMD+s the words
// of its cycles). A PE lane's sum starts from the bias at ri = 0 and is complete at
// ri = RI - 1. R = 1 unrolls every product (constant weights, zero weights vanish).
//
// The stage is one pipelined loop over items * R cycles (II = 1, rewind), so the pipeline
// never drains between items or calls: the stage's interval is items * R cycles.
// The accumulator type holds the final sum exactly and wraps, so partial sums in any order
// give the same result; the only rounding is the cast to the output type, after the
// optional fused ReLU. Multiplier-free variants: weights in {-1, 0, +1} select x, -x or
// nothing; with bipolar inputs too, each product is +1 when the signs agree, else -1 (an
// XNOR and a popcount). They equal the products exactly, so the simulator need not tell
// them apart.
#ifndef QC_DENSE_H
#define QC_DENSE_H

#include "qc_common.h"

namespace qc {

enum DenseKernel { MAC = 0, SIGNED = 1, XNOR = 2 };

template <int K> struct Product;
template <> struct Product<MAC> {
    template <class A, class X, class W> static A of(const X &x, const W &w) {
#pragma HLS INLINE
        return x * w;
    }
};
template <> struct Product<SIGNED> {
    template <class A, class X, class W> static A of(const X &x, const W &w) {
#pragma HLS INLINE
        if (w > 0) return x;
        if (w < 0) return -x;
        return 0;
    }
};
template <> struct Product<XNOR> {
    template <class A, class X, class W> static A of(const X &x, const W &w) {
#pragma HLS INLINE
        return ((x > 0) == (w > 0)) ? A(1) : A(-1);
    }
};

// Position in the input item of product row i for output o: the row itself, except in
// grouped convolutions, where output o reads its group's channels of tap i / CIN_G.
template <class CFG> unsigned input_index(unsigned i, unsigned o) {
#pragma HLS INLINE
    if (CFG::groups == 1) return i;
    return (i / CFG::cin_g) * CFG::channels + (o / CFG::cout_g) * CFG::cin_g + i % CFG::cin_g;
}

template <class CFG, class IN_V, class OUT_V>
void mac_array(hls::stream<IN_V> &in, hls::stream<OUT_V> &out,
               const typename CFG::weight_t w[CFG::n_in * CFG::n_out], const typename CFG::bias_t b[CFG::n_out]) {
    typedef typename CFG::accum_t acc_t;
#pragma HLS ARRAY_PARTITION variable=w cyclic factor=CFG::block
    // state across the cycles of an item (static: no code before the rewound loop)
    static IN_V x;
    static OUT_V y;
    static acc_t acc[CFG::pe];
#pragma HLS ARRAY_PARTITION variable=acc complete
    static unsigned ri = 0, ro = 0;
Cycles:
    for (unsigned t = 0; t < CFG::items * CFG::reuse; t++) {
#pragma HLS PIPELINE II=1 rewind
        if (ri == 0 && ro == 0) x = in.read();
        const unsigned r = ro * CFG::ri + ri;
    Pe:
        for (unsigned p = 0; p < CFG::pe; p++) {
#pragma HLS UNROLL
            const unsigned o = ro * CFG::pe + p;
            acc_t dot = 0;
        Simd:
            for (unsigned s = 0; s < CFG::simd; s++) {
#pragma HLS UNROLL
                const unsigned i = ri * CFG::simd + s;
                dot += Product<CFG::kernel>::template of<acc_t>(x.data[input_index<CFG>(i, o)],
                                                                w[r * CFG::block + p * CFG::simd + s]);
            }
            const acc_t sum = (ri == 0 ? acc_t(b[o]) : acc[p]) + dot;
            acc[p] = sum;
            if (ri == CFG::ri - 1) y.data[o] = (CFG::relu && sum < 0) ? acc_t(0) : sum;
        }
        if (ri + 1 < CFG::ri) {
            ri++;
        } else {
            ri = 0;
            if (ro + 1 < CFG::ro) {
                ro++;
            } else {
                ro = 0;
                out.write(y);
            }
        }
    }
}

}  // namespace qc

#endif
