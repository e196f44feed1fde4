// qcompile: shared definitions for the generated kernels.
//
// Streams carry beats: a beat is FOLD consecutive values of a tensor in channels-last
// order (a whole pixel or vector when FOLD is its channel count, a slice of one otherwise),
// so a stream is the tensor's flat value sequence whatever the fold.
#ifndef QC_COMMON_H
#define QC_COMMON_H

#include "ap_fixed.h"
#include "ap_int.h"
#include "hls_stream.h"

namespace qc {

// Step counter i of n values; true when it wraps to 0 (so `step(a, A) && step(b, B)` steps
// nested counters, a innermost).
template <class I, class N>
inline bool step(I &i, N n) {
#pragma HLS INLINE
    if (i + 1 < I(n)) {
        i++;
        return false;
    }
    i = 0;
    return true;
}

// One stream beat of N values.
template <class T, unsigned N>
struct vec {
    T data[N];
};

// C simulation only: fill a fixed-point constant array from its integer codes (raw bits).
template <class T, unsigned N>
bool load_codes(T (&dst)[N], const long long (&codes)[N]) {
    for (unsigned i = 0; i < N; i++) dst[i].range(T::width - 1, 0) = codes[i];
    return true;
}

// A dataflow stream has exactly one reader: a tensor read by several stages is copied.
template <class V, unsigned BEATS>
void fork(hls::stream<V> &in, hls::stream<V> &out0, hls::stream<V> &out1) {
Beats:
    for (unsigned it = 0; it < BEATS; it++) {
#pragma HLS PIPELINE II=1 rewind
        V v = in.read();
        out0.write(v);
        out1.write(v);
    }
}

// Stream width converter: beats of FI values -> beats of FO values, one beat in or out per
// cycle. FO a multiple of FI: FO / FI beats are gathered into one; FI a multiple of FO: a
// beat is split into FI / FO (the compiler chains two converters through lcm(FI, FO) when
// neither divides the other).
template <class IN_V, class OUT_V, unsigned FI, unsigned FO, unsigned BEATS_IN, bool GATHER>
struct Convert;

template <class IN_V, class OUT_V, unsigned FI, unsigned FO, unsigned BEATS_IN>
struct Convert<IN_V, OUT_V, FI, FO, BEATS_IN, true> {
    static void run(hls::stream<IN_V> &in, hls::stream<OUT_V> &out) {
        static OUT_V y;
        static unsigned slot = 0;
    Beats:
        for (unsigned b = 0; b < BEATS_IN; b++) {
#pragma HLS PIPELINE II=1 rewind
            IN_V x = in.read();
            for (unsigned i = 0; i < FI; i++) {
#pragma HLS UNROLL
                y.data[slot * FI + i] = x.data[i];
            }
            if (step(slot, FO / FI)) out.write(y);
        }
    }
};

template <class IN_V, class OUT_V, unsigned FI, unsigned FO, unsigned BEATS_IN>
struct Convert<IN_V, OUT_V, FI, FO, BEATS_IN, false> {
    static void run(hls::stream<IN_V> &in, hls::stream<OUT_V> &out) {
        static IN_V x;
        static unsigned part = 0;
    Beats:
        for (unsigned b = 0; b < BEATS_IN * (FI / FO); b++) {
#pragma HLS PIPELINE II=1 rewind
            if (part == 0) x = in.read();
            OUT_V y;
            for (unsigned i = 0; i < FO; i++) {
#pragma HLS UNROLL
                y.data[i] = x.data[part * FO + i];
            }
            out.write(y);
            step(part, FI / FO);
        }
    }
};

template <class IN_V, class OUT_V, unsigned FI, unsigned FO, unsigned BEATS_IN>
void convert(hls::stream<IN_V> &in, hls::stream<OUT_V> &out) {
    Convert<IN_V, OUT_V, FI, FO, BEATS_IN, (FO % FI == 0)>::run(in, out);
}

// ceil(log2(N)) at compile time.
template <unsigned N>
struct Log2Ceil {
    enum { value = 1 + Log2Ceil<(N + 1) / 2>::value };
};
template <>
struct Log2Ceil<1> {
    enum { value = 0 };
};

// T widened by B bits (B more integer bits: a sum of 2^B values of T cannot overflow it).
template <class T, int B>
struct Grow;
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N, int B>
struct Grow<ap_fixed<W, I, Q, O, N>, B> {
    typedef ap_fixed<W + B, I + B> type;
};
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N, int B>
struct Grow<ap_ufixed<W, I, Q, O, N>, B> {
    typedef ap_ufixed<W + B, I + B> type;
};

// Balanced adder tree over N values of T: each level one bit wider than the level below,
// so the adders near the leaves stay as narrow as the products.
template <unsigned N, class T>
struct Tree {
    typedef typename Grow<T, Log2Ceil<N>::value>::type sum_t;
    static sum_t sum(const T *x) {
#pragma HLS INLINE
        return sum_t(Tree<N / 2, T>::sum(x)) + sum_t(Tree<N - N / 2, T>::sum(x + N / 2));
    }
};
template <class T>
struct Tree<1, T> {
    typedef T sum_t;
    static sum_t sum(const T *x) {
#pragma HLS INLINE
        return x[0];
    }
};

// The block-schedule argument of MAC arrays that skip nothing (qc_dense.h qc::mvau).
typedef ap_ufixed<1, 1> no_schedule_t;
static const no_schedule_t no_schedule[1] = {0};

}  // namespace qc

#endif
