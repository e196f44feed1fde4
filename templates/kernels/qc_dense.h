// qcompile: the MAC array of Dense and Conv (FINN's matrix-vector unit), PE x SIMD lanes.
//
// Per item (a vector, or a convolution window) the N_IN x N_OUT products take SF * NF
// cycles (SF = N_IN / SIMD, NF = N_OUT / PE): cycle (nf, sf) multiplies the SIMD inputs
// sf*SIMD .. by the weights of the PE outputs nf*PE .., each PE lane adding its SIMD
// products (a tree that grows one bit per level, qc::Tree) into its running sum, which
// starts from the bias and leaves after SF cycles; the outputs leave as NF beats of PE.
// Inputs arrive as beats of IN_FOLD values (a multiple of SIMD): read once, during the
// first output group, and kept in an input buffer of N_IN / IN_FOLD words for the others.
// The weights of one cycle are one memory word (the compiler stores them cycle-major:
// w[(nf * SF + sf) * PE * SIMD + p * SIMD + s] and reshapes the array into words of
// PE * SIMD); fully parallel (SF = NF = 1) they are constants and zero weights vanish.
// One pipelined loop over items * SF * NF cycles (II = 1, rewind): the stage never drains.
// Sparse weights: with CFG::skip the array visits only a schedule of blocks per item (the
// compiler's MacOp.block_schedule): every block of the first output group, which reads the
// input, then only the nonzero blocks of the others (one if a group has none), CFG::mac_cycles
// in all; the weight memory holds just the visited blocks, in schedule order. Zero blocks
// add nothing to the sums, so the results are those of the dense schedule.
// The accumulator type holds every partial sum exactly, so the folding never changes a
// result; the only rounding is the cast to the output type, after the optional ReLU.
// Multiplier-free lanes: weights in {-1, 0, +1} select x, -x or 0 (SIGNED); with bipolar
// inputs too, a lane is 1 when the signs agree and the PE's dot product 2 * count - SIMD
// (XNOR). They equal the products exactly, so the simulator need not tell them apart.
#ifndef QC_DENSE_H
#define QC_DENSE_H

#include "qc_common.h"

namespace qc {

enum DenseKernel { MAC = 0, SIGNED = 1, XNOR = 2 };

template <int K> struct Lane;
template <> struct Lane<MAC> {
    template <class L, class X, class W> static L of(const X &x, const W &w) {
#pragma HLS INLINE
        return x * w;
    }
    template <class A, unsigned SIMD, class S> static A dot(const S &s) {
#pragma HLS INLINE
        return s;
    }
};
template <> struct Lane<SIGNED> {
    template <class L, class X, class W> static L of(const X &x, const W &w) {
#pragma HLS INLINE
        if (w > 0) return x;
        if (w < 0) return -x;
        return 0;
    }
    template <class A, unsigned SIMD, class S> static A dot(const S &s) {
#pragma HLS INLINE
        return s;
    }
};
template <> struct Lane<XNOR> {
    template <class L, class X, class W> static L of(const X &x, const W &w) {
#pragma HLS INLINE
        return ((x > 0) == (w > 0)) ? L(1) : L(0);
    }
    template <class A, unsigned SIMD, class S> static A dot(const S &s) {
#pragma HLS INLINE
        return A(2 * s) - A(SIMD);
    }
};

// The PE dot products of one cycle: lane (p, s) multiplies xs[s * XSTRIDE + p * PSTRIDE]
// (Dense and Conv: xs[s]; depthwise: xs[s * PE + p], its own channel) by its weight.
template <class CFG, unsigned XSTRIDE, unsigned PSTRIDE, class X_ARR, class Y_V>
void mac_cycle(const X_ARR &xs, const typename CFG::weight_t w[], const typename CFG::bias_t b[],
               typename CFG::accum_t acc[CFG::pe], unsigned r, unsigned nf, bool first, Y_V &y) {
#pragma HLS INLINE
    typedef typename CFG::accum_t acc_t;
    typedef typename CFG::leaf_t leaf_t;
    const unsigned PE = CFG::pe, SIMD = CFG::simd;
Pe:
    for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
        leaf_t leaves[SIMD];
#pragma HLS ARRAY_PARTITION variable=leaves complete
    Simd:
        for (unsigned s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
            leaves[s] = Lane<CFG::kernel>::template of<leaf_t>(xs[s * XSTRIDE + p * PSTRIDE], w[r * PE * SIMD + p * SIMD + s]);
        }
        const acc_t dot = Lane<CFG::kernel>::template dot<acc_t, SIMD>(Tree<SIMD, leaf_t>::sum(leaves));
        const acc_t sum = (first ? acc_t(b[nf * PE + p]) : acc[p]) + dot;
        acc[p] = sum;
        y.data[p] = (CFG::relu && sum < 0) ? acc_t(0) : sum;
    }
}

template <class CFG, class IN_V, class OUT_V>
void mvau_dense(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::weight_t w[],
                const typename CFG::bias_t b[]) {
    typedef typename CFG::x_t x_t;
    const unsigned SF = CFG::sf, NF = CFG::nf, SIMD = CFG::simd, FOLD = CFG::in_fold;
    const unsigned M = FOLD / SIMD;            // SIMD slices per input beat
    const unsigned WORDS = CFG::n_in / FOLD;   // input beats per item
    // state across the cycles of an item (static: no code before the rewound loop)
    static x_t buf[WORDS][FOLD];
#pragma HLS ARRAY_PARTITION variable=buf complete dim=2
    static IN_V beat;
    static typename CFG::accum_t acc[CFG::pe];
#pragma HLS ARRAY_PARTITION variable=acc complete
    static unsigned sf = 0, nf = 0, word = 0, slice = 0;
Cycles:
    for (unsigned t = 0; t < CFG::items * SF * NF; t++) {
#pragma HLS PIPELINE II=1 rewind
        x_t xs[SIMD];
#pragma HLS ARRAY_PARTITION variable=xs complete
        if (NF == 1 || nf == 0) {
            if (M == 1 || slice == 0) {
                beat = in.read();
                if (NF > 1) {
                    for (unsigned f = 0; f < FOLD; f++) buf[word][f] = beat.data[f];
                }
            }
            for (unsigned s = 0; s < SIMD; s++) xs[s] = beat.data[(M == 1 ? 0 : slice) * SIMD + s];
        } else {
            for (unsigned s = 0; s < SIMD; s++) xs[s] = buf[word][(M == 1 ? 0 : slice) * SIMD + s];
        }
        const unsigned r = (SF * NF == 1) ? 0 : nf * SF + sf;
        OUT_V y;
        mac_cycle<CFG, 1, 0>(xs, w, b, acc, r, NF == 1 ? 0 : nf, SF == 1 || sf == 0, y);
        if (SF == 1 || sf + 1 == SF) out.write(y);
        step(slice, M) && step(word, WORDS);
        step(sf, SF) && step(nf, NF);
    }
}

// The schedule of blocks: entry t = word << (slice_bits + 2) | slice << 2 | first << 1 | last
// (the block's input word and SIMD slice in it; whether it starts and ends its output group).
template <class CFG, class IN_V, class OUT_V>
void mvau_skip(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::weight_t w[],
               const typename CFG::bias_t b[], const typename CFG::sched_t sched[]) {
    typedef typename CFG::x_t x_t;
    const unsigned SF = CFG::sf, NF = CFG::nf, SIMD = CFG::simd, FOLD = CFG::in_fold, C = CFG::mac_cycles;
    const unsigned WORDS = CFG::n_in / FOLD, SB = CFG::slice_bits;
    static x_t buf[WORDS][FOLD];
#pragma HLS ARRAY_PARTITION variable=buf complete dim=2
    static IN_V beat;
    static typename CFG::accum_t acc[CFG::pe];
#pragma HLS ARRAY_PARTITION variable=acc complete
    static unsigned t = 0, nf = 0;
Cycles:
    for (unsigned k = 0; k < CFG::items * C; k++) {
#pragma HLS PIPELINE II=1 rewind
        const unsigned e = sched[t].to_uint();
        const bool first = (e >> 1) & 1, last = e & 1;
        const unsigned slice = (e >> 2) & ((1u << SB) - 1), word = e >> (SB + 2);
        x_t xs[SIMD];
#pragma HLS ARRAY_PARTITION variable=xs complete
        if (t < SF) {  // the first output group: every block, reading the input
            if (slice == 0) {
                beat = in.read();
                for (unsigned f = 0; f < FOLD; f++) buf[word][f] = beat.data[f];
            }
            for (unsigned s = 0; s < SIMD; s++) xs[s] = beat.data[slice * SIMD + s];
        } else {
            for (unsigned s = 0; s < SIMD; s++) xs[s] = buf[word][slice * SIMD + s];
        }
        OUT_V y;
        mac_cycle<CFG, 1, 0>(xs, w, b, acc, t, nf, first, y);
        if (last) {
            out.write(y);
            step(nf, NF);
        }
        step(t, C);
    }
}

template <class CFG, class IN_V, class OUT_V>
void mvau(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::weight_t w[],
          const typename CFG::bias_t b[], const typename CFG::sched_t sched[]) {
#pragma HLS INLINE
    if (CFG::skip) {
        mvau_skip<CFG>(in, out, w, b, sched);
    } else {
        mvau_dense<CFG>(in, out, w, b);
    }
}

// Depthwise vector unit (FINN's VVAU): PE channels in parallel, each its own input.
// SIMD = 1: beats of PE channels of one tap, channel-major per window (group nf, tap sf);
// SIMD = TAPS (PE = every channel): one beat per window, tap-major (x[t * PE + p]).
template <class CFG, class IN_V, class OUT_V>
void vvau(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::weight_t w[],
          const typename CFG::bias_t b[]) {
    const unsigned SF = CFG::sf, NF = CFG::nf;
    static typename CFG::accum_t acc[CFG::pe];
#pragma HLS ARRAY_PARTITION variable=acc complete
    static unsigned sf = 0, nf = 0;
Cycles:
    for (unsigned t = 0; t < CFG::items * SF * NF; t++) {
#pragma HLS PIPELINE II=1 rewind
        IN_V x = in.read();
        const unsigned r = (SF * NF == 1) ? 0 : nf * SF + sf;
        OUT_V y;
        mac_cycle<CFG, CFG::pe, 1>(x.data, w, b, acc, r, NF == 1 ? 0 : nf, SF == 1 || sf == 0, y);
        if (SF == 1 || sf + 1 == SF) out.write(y);
        step(sf, SF) && step(nf, NF);
    }
}

}  // namespace qc

#endif
