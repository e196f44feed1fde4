// qcompile: pooling. Windowed: the sliding-window generator (max pads with the type's
// minimum, so padding never wins; average pads with zeros) and a per-window reduction.
// Global: one accumulator per channel over the whole image, no line buffer.
// Average: the exact window sum times RECIP[n] (n = window size, or the window's cells
// inside the image), rounded once to the output type.
#ifndef QC_POOL_H
#define QC_POOL_H

#include "qc_common.h"
#include "qc_window.h"

namespace qc {

// Cells of output (oh, ow)'s window inside the image (the average's divisor without pads).
template <class CFG>
unsigned window_count(unsigned oh, unsigned ow) {
#pragma HLS INLINE
    unsigned rows = 0, cols = 0;
    for (unsigned i = 0; i < CFG::kh; i++) {
        const int r = int(oh * CFG::sh + i * CFG::dh) - int(CFG::pt);
        rows += (r >= 0 && r < int(CFG::in_h)) ? 1 : 0;
    }
    for (unsigned j = 0; j < CFG::kw; j++) {
        const int c = int(ow * CFG::sw + j * CFG::dw) - int(CFG::pl);
        cols += (c >= 0 && c < int(CFG::in_w)) ? 1 : 0;
    }
    return CFG::include_pad ? CFG::kh * CFG::kw : rows * cols;
}

template <class CFG, class WIN_V, class OUT_V>
void pool_reduce(hls::stream<WIN_V> &in, hls::stream<OUT_V> &out, const typename CFG::recip_t recip[]) {
    const unsigned C = CFG::channels, T = CFG::kh * CFG::kw;
Windows:
    for (unsigned it = 0; it < CFG::items; it++) {
#pragma HLS PIPELINE II=1 rewind
        WIN_V x = in.read();
        OUT_V y;
        const unsigned n = CFG::is_max ? 1 : window_count<CFG>(it / CFG::out_w, it % CFG::out_w);
        for (unsigned c = 0; c < C; c++) {
#pragma HLS UNROLL
            if (CFG::is_max) {
                typename CFG::x_t m = x.data[c];
                for (unsigned t = 1; t < T; t++)
                    if (x.data[t * C + c] > m) m = x.data[t * C + c];
                y.data[c] = m;
            } else {
                typename CFG::sum_t s = 0;
                for (unsigned t = 0; t < T; t++) s += x.data[t * C + c];
                typename CFG::prod_t p = s * recip[n];
                y.data[c] = p;
            }
        }
        out.write(y);
    }
}

template <class CFG, class IN_V, class OUT_V>
void pool(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::recip_t recip[],
          const typename CFG::x_t pad) {
#pragma HLS DATAFLOW
    hls::stream<typename CFG::win_t> windows("windows");
    sliding_window<CFG>(in, windows, pad);
    pool_reduce<CFG>(windows, out, recip);
}

template <class CFG, class IN_V, class OUT_V>
void global_pool(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::recip_t recip[]) {
    const unsigned C = CFG::channels;
    typename CFG::acc_t acc[C];
#pragma HLS ARRAY_PARTITION variable=acc complete
Pixels:
    for (unsigned it = 0; it < CFG::in_items; it++) {
#pragma HLS PIPELINE II=1
        IN_V x = in.read();
        for (unsigned c = 0; c < C; c++) {
#pragma HLS UNROLL
            if (it == 0) acc[c] = x.data[c];
            else if (CFG::is_max) { if (x.data[c] > acc[c]) acc[c] = x.data[c]; }
            else acc[c] += x.data[c];
        }
    }
    OUT_V y;
    for (unsigned c = 0; c < C; c++) {
#pragma HLS UNROLL
        if (CFG::is_max) {
            y.data[c] = acc[c];
        } else {
            typename CFG::prod_t p = acc[c] * recip[CFG::in_items];
            y.data[c] = p;
        }
    }
    out.write(y);
}

}  // namespace qc

#endif
