// qcompile: per-element stages (ReLU, per-channel multiply-add), one beat of FOLD lanes per
// cycle; channel c = g * FOLD + lane (g cycles over the item's G = C / FOLD beats).
#ifndef QC_ELEMENTWISE_H
#define QC_ELEMENTWISE_H

#include "qc_common.h"

namespace qc {

template <class CFG, class IN_V, class OUT_V>
void relu(hls::stream<IN_V> &in, hls::stream<OUT_V> &out) {
    static unsigned g = 0;
Beats:
    for (unsigned it = 0; it < CFG::items * CFG::groups; it++) {
#pragma HLS PIPELINE II=1 rewind
        IN_V x = in.read();
        OUT_V y;
        for (unsigned c = 0; c < CFG::fold; c++) {
#pragma HLS UNROLL
            y.data[c] = x.data[c] > 0 ? x.data[c] : typename CFG::x_t(0);
        }
        out.write(y);
        g = (g + 1 == CFG::groups) ? 0 : g + 1;
    }
}

template <class CFG, class IN_V, class OUT_V>
void affine(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::scale_t s[CFG::channels],
            const typename CFG::shift_t t[CFG::channels]) {
    static unsigned g = 0;
Beats:
    for (unsigned it = 0; it < CFG::items * CFG::groups; it++) {
#pragma HLS PIPELINE II=1 rewind
        IN_V x = in.read();
        OUT_V y;
        for (unsigned c = 0; c < CFG::fold; c++) {
#pragma HLS UNROLL
            const unsigned ch = (CFG::groups == 1 ? 0 : g) * CFG::fold + c;
            typename CFG::accum_t a = x.data[c] * s[ch];
            a += t[ch];
            y.data[c] = a;
        }
        out.write(y);
        g = (g + 1 == CFG::groups) ? 0 : g + 1;
    }
}

}  // namespace qc

#endif
