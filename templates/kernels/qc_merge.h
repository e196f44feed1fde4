// qcompile: stages joining streams, one beat per cycle: element-wise Add/Sub of two
// activations at the same FOLD (binary points aligned exactly in SUM_T, then one cast) and
// channel Concat of 2..4 inputs (per item, each input's beats in turn: FOLD divides every
// input's channel count). Their input FIFOs are sized by the compiler for the latency skew
// of the two paths.
#ifndef QC_MERGE_H
#define QC_MERGE_H

#include "qc_common.h"

namespace qc {

template <class CFG, class A_V, class B_V, class OUT_V>
void add(hls::stream<A_V> &a, hls::stream<B_V> &b, hls::stream<OUT_V> &out) {
Beats:
    for (unsigned it = 0; it < CFG::items * CFG::groups; it++) {
#pragma HLS PIPELINE II=1 rewind
        A_V x = a.read();
        B_V z = b.read();
        OUT_V y;
        for (unsigned c = 0; c < CFG::fold; c++) {
#pragma HLS UNROLL
            typename CFG::sum_t s = x.data[c];
            if (CFG::subtract) s -= z.data[c];
            else s += z.data[c];
            y.data[c] = s;
        }
        out.write(y);
    }
}

template <unsigned FOLD, class V, class OUT_V>
void copy_beat(const V &x, OUT_V &y) {
#pragma HLS INLINE
    for (unsigned l = 0; l < FOLD; l++) y.data[l] = x.data[l];
}

// Beat k of an item comes from the first input for k < b0, from the second for k < b0 + b1, ...
template <class CFG, class A_V, class B_V, class OUT_V>
void concat(hls::stream<A_V> &a, hls::stream<B_V> &b, hls::stream<OUT_V> &out) {
    const unsigned BEATS = CFG::b0 + CFG::b1;
    static unsigned k = 0;
Beats:
    for (unsigned it = 0; it < CFG::items * BEATS; it++) {
#pragma HLS PIPELINE II=1 rewind
        OUT_V y;
        if (k < CFG::b0) copy_beat<CFG::fold>(a.read(), y);
        else copy_beat<CFG::fold>(b.read(), y);
        out.write(y);
        k = (k + 1 == BEATS) ? 0 : k + 1;
    }
}

template <class CFG, class A_V, class B_V, class C_V, class OUT_V>
void concat(hls::stream<A_V> &a, hls::stream<B_V> &b, hls::stream<C_V> &c, hls::stream<OUT_V> &out) {
    const unsigned BEATS = CFG::b0 + CFG::b1 + CFG::b2;
    static unsigned k = 0;
Beats:
    for (unsigned it = 0; it < CFG::items * BEATS; it++) {
#pragma HLS PIPELINE II=1 rewind
        OUT_V y;
        if (k < CFG::b0) copy_beat<CFG::fold>(a.read(), y);
        else if (k < CFG::b0 + CFG::b1) copy_beat<CFG::fold>(b.read(), y);
        else copy_beat<CFG::fold>(c.read(), y);
        out.write(y);
        k = (k + 1 == BEATS) ? 0 : k + 1;
    }
}

template <class CFG, class A_V, class B_V, class C_V, class D_V, class OUT_V>
void concat(hls::stream<A_V> &a, hls::stream<B_V> &b, hls::stream<C_V> &c, hls::stream<D_V> &d,
            hls::stream<OUT_V> &out) {
    const unsigned BEATS = CFG::b0 + CFG::b1 + CFG::b2 + CFG::b3;
    static unsigned k = 0;
Beats:
    for (unsigned it = 0; it < CFG::items * BEATS; it++) {
#pragma HLS PIPELINE II=1 rewind
        OUT_V y;
        if (k < CFG::b0) copy_beat<CFG::fold>(a.read(), y);
        else if (k < CFG::b0 + CFG::b1) copy_beat<CFG::fold>(b.read(), y);
        else if (k < CFG::b0 + CFG::b1 + CFG::b2) copy_beat<CFG::fold>(c.read(), y);
        else copy_beat<CFG::fold>(d.read(), y);
        out.write(y);
        k = (k + 1 == BEATS) ? 0 : k + 1;
    }
}

}  // namespace qc

#endif
