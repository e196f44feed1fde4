// qcompile: per-element stages (ReLU, per-channel multiply-add).
#ifndef QC_ELEMENTWISE_H
#define QC_ELEMENTWISE_H

#include "qc_common.h"

namespace qc {

template <class CFG, class IN_V, class OUT_V>
void relu(hls::stream<IN_V> &in, hls::stream<OUT_V> &out) {
Items:
    for (unsigned it = 0; it < CFG::items; it++) {
#pragma HLS PIPELINE II=1 rewind
        IN_V x = in.read();
        OUT_V y;
        for (unsigned c = 0; c < CFG::channels; c++) {
#pragma HLS UNROLL
            y.data[c] = x.data[c] > 0 ? x.data[c] : typename CFG::x_t(0);
        }
        out.write(y);
    }
}

template <class CFG, class IN_V, class OUT_V>
void affine(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::scale_t s[CFG::channels],
            const typename CFG::shift_t t[CFG::channels]) {
Items:
    for (unsigned it = 0; it < CFG::items; it++) {
#pragma HLS PIPELINE II=1 rewind
        IN_V x = in.read();
        OUT_V y;
        for (unsigned c = 0; c < CFG::channels; c++) {
#pragma HLS UNROLL
            typename CFG::accum_t a = x.data[c] * s[c];
            a += t[c];
            y.data[c] = a;
        }
        out.write(y);
    }
}

}  // namespace qc

#endif
