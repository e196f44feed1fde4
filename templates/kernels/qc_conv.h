// qcompile: streaming convolution = a window generator (qc_window.h) + the MAC array or the
// depthwise vector unit (qc_dense.h), as two dataflow stages, so the image streams in while
// the array takes its cycles per window. Modes (compiler/ops/conv.py):
//   sliced            swg (tap-major slices of SIMD channels) -> mvau
//   window            sliding_window (whole windows) -> mvau (SIMD = the whole window)
//   depthwise_sliced  swg (channel-major slices of PE channels) -> vvau (SIMD = 1)
//   depthwise_window  sliding_window -> vvau (SIMD = taps, PE = every channel)
// A pointwise convolution (1x1, stride 1, no padding) is the MAC array alone. `sched`: the
// MAC array's block schedule (qc::mvau; unused by the depthwise unit, which skips nothing).
#ifndef QC_CONV_H
#define QC_CONV_H

#include "qc_common.h"
#include "qc_dense.h"
#include "qc_window.h"

namespace qc {

template <class CFG, class IN_V, class OUT_V>
void conv_sliced(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::weight_t w[],
                 const typename CFG::bias_t b[], const typename CFG::sched_t sched[]) {
#pragma HLS DATAFLOW
    hls::stream<IN_V> windows("windows");
    swg<CFG>(in, windows, typename CFG::x_t(0));
    mvau<CFG>(windows, out, w, b, sched);
}

template <class CFG, class IN_V, class OUT_V>
void conv_window(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::weight_t w[],
                 const typename CFG::bias_t b[], const typename CFG::sched_t sched[]) {
#pragma HLS DATAFLOW
    hls::stream<typename CFG::win_t> windows("windows");
    sliding_window<CFG>(in, windows, typename CFG::x_t(0));
    mvau<CFG>(windows, out, w, b, sched);
}

template <class CFG, class IN_V, class OUT_V>
void conv_depthwise_sliced(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::weight_t w[],
                           const typename CFG::bias_t b[], const typename CFG::sched_t[]) {
#pragma HLS DATAFLOW
    hls::stream<IN_V> windows("windows");
    swg<CFG>(in, windows, typename CFG::x_t(0));
    vvau<CFG>(windows, out, w, b);
}

template <class CFG, class IN_V, class OUT_V>
void conv_depthwise_window(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::weight_t w[],
                           const typename CFG::bias_t b[], const typename CFG::sched_t[]) {
#pragma HLS DATAFLOW
    hls::stream<typename CFG::win_t> windows("windows");
    sliding_window<CFG>(in, windows, typename CFG::x_t(0));
    vvau<CFG>(windows, out, w, b);
}

}  // namespace qc

#endif
