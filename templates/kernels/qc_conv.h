// qcompile: streaming convolution = sliding-window generator + MAC array.
//
// The MAC array is Dense's: the K*C_OUT products of a window (K = KH*KW*C_IN/GROUPS) are
// spread over BLOCK = ceil(K*C_OUT / REUSE) multipliers used REUSE times per window. Output
// channel o of group g = o / COUT_G reads input channels g*CIN_G .. g*CIN_G + CIN_G - 1.
// The accumulator type is sized by the compiler so the sum is exact; the only rounding is
// the final cast (after the optional fused ReLU). Generator and MAC array run as two
// dataflow stages, so the image streams in at one pixel per cycle while the MAC array
// takes REUSE cycles per window.
#ifndef QC_CONV_H
#define QC_CONV_H

#include "qc_common.h"
#include "qc_window.h"

namespace qc {

template <class CFG, class WIN_V, class OUT_V>
void conv_mac(hls::stream<WIN_V> &in, hls::stream<OUT_V> &out,
              const typename CFG::weight_t w[CFG::n_in * CFG::n_out], const typename CFG::bias_t b[CFG::n_out]) {
    const unsigned N = CFG::n_in * CFG::n_out;
Windows:
    for (unsigned it = 0; it < CFG::items; it++) {
        WIN_V x = in.read();
        typename CFG::accum_t acc[CFG::n_out];
#pragma HLS ARRAY_PARTITION variable=acc complete
    Init:
        for (unsigned o = 0; o < CFG::n_out; o++) {
#pragma HLS UNROLL
            acc[o] = b[o];
        }
    Reuse:
        for (unsigned r = 0; r < CFG::reuse; r++) {
#pragma HLS PIPELINE II=1
        Mac:
            for (unsigned k = 0; k < CFG::block; k++) {
#pragma HLS UNROLL
                const unsigned idx = r + k * CFG::reuse;
                if (idx < N) {
                    const unsigned row = idx / CFG::n_out, o = idx % CFG::n_out;
                    const unsigned ch = (o / CFG::cout_g) * CFG::cin_g + row % CFG::cin_g;
                    acc[o] += x.data[(row / CFG::cin_g) * CFG::channels + ch] * w[idx];
                }
            }
        }
        OUT_V y;
    Out:
        for (unsigned o = 0; o < CFG::n_out; o++) {
#pragma HLS UNROLL
            typename CFG::accum_t a = acc[o];
            if (CFG::relu && a < 0) a = 0;
            y.data[o] = a;
        }
        out.write(y);
    }
}

template <class CFG, class IN_V, class OUT_V>
void conv(hls::stream<IN_V> &in, hls::stream<OUT_V> &out,
          const typename CFG::weight_t w[CFG::n_in * CFG::n_out], const typename CFG::bias_t b[CFG::n_out]) {
#pragma HLS DATAFLOW
    hls::stream<typename CFG::win_t> windows("windows");
    sliding_window<CFG>(in, windows, typename CFG::x_t(0));
    conv_mac<CFG>(windows, out, w, b);
}

}  // namespace qc

#endif
