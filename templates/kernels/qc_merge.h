// qcompile: stages joining streams: element-wise Add/Sub of two activations (binary
// points aligned exactly in SUM_T, then one cast) and channel Concat of 2..4 inputs.
// Their input FIFOs are sized by the compiler for the latency skew of the two paths.
#ifndef QC_MERGE_H
#define QC_MERGE_H

#include "qc_common.h"

namespace qc {

template <class CFG, class A_V, class B_V, class OUT_V>
void add(hls::stream<A_V> &a, hls::stream<B_V> &b, hls::stream<OUT_V> &out) {
Items:
    for (unsigned it = 0; it < CFG::items; it++) {
#pragma HLS PIPELINE II=1 rewind
        A_V x = a.read();
        B_V z = b.read();
        OUT_V y;
        for (unsigned c = 0; c < CFG::channels; c++) {
#pragma HLS UNROLL
            typename CFG::sum_t s = x.data[c];
            if (CFG::subtract) s -= z.data[c];
            else s += z.data[c];
            y.data[c] = s;
        }
        out.write(y);
    }
}

template <class V, class OUT_V>
void concat_part(const V &x, OUT_V &y, unsigned offset, unsigned n) {
#pragma HLS INLINE
    for (unsigned c = 0; c < n; c++) y.data[offset + c] = x.data[c];
}

template <class CFG, class A_V, class B_V, class OUT_V>
void concat(hls::stream<A_V> &a, hls::stream<B_V> &b, hls::stream<OUT_V> &out) {
Items:
    for (unsigned it = 0; it < CFG::items; it++) {
#pragma HLS PIPELINE II=1 rewind
        OUT_V y;
        concat_part(a.read(), y, 0, CFG::c0);
        concat_part(b.read(), y, CFG::c0, CFG::c1);
        out.write(y);
    }
}

template <class CFG, class A_V, class B_V, class C_V, class OUT_V>
void concat(hls::stream<A_V> &a, hls::stream<B_V> &b, hls::stream<C_V> &c, hls::stream<OUT_V> &out) {
Items:
    for (unsigned it = 0; it < CFG::items; it++) {
#pragma HLS PIPELINE II=1 rewind
        OUT_V y;
        concat_part(a.read(), y, 0, CFG::c0);
        concat_part(b.read(), y, CFG::c0, CFG::c1);
        concat_part(c.read(), y, CFG::c0 + CFG::c1, CFG::c2);
        out.write(y);
    }
}

template <class CFG, class A_V, class B_V, class C_V, class D_V, class OUT_V>
void concat(hls::stream<A_V> &a, hls::stream<B_V> &b, hls::stream<C_V> &c, hls::stream<D_V> &d,
            hls::stream<OUT_V> &out) {
Items:
    for (unsigned it = 0; it < CFG::items; it++) {
#pragma HLS PIPELINE II=1 rewind
        OUT_V y;
        concat_part(a.read(), y, 0, CFG::c0);
        concat_part(b.read(), y, CFG::c0, CFG::c1);
        concat_part(c.read(), y, CFG::c0 + CFG::c1, CFG::c2);
        concat_part(d.read(), y, CFG::c0 + CFG::c1 + CFG::c2, CFG::c3);
        out.write(y);
    }
}

}  // namespace qc

#endif
