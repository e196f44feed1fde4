// qcompile: streaming convolution = sliding-window generator + MAC array (qc_dense.h).
//
// A window item holds the KH*KW taps of C_IN channels, tap-major; its K = KH*KW*C_IN/GROUPS
// rows meet the C_OUT outputs in Dense's MAC array (output channel o of group g = o / COUT_G
// reads input channels g*CIN_G .. g*CIN_G + CIN_G - 1). Generator and MAC array run as two
// dataflow stages, so the image streams in at one pixel per cycle while the MAC array takes
// REUSE cycles per window.
#ifndef QC_CONV_H
#define QC_CONV_H

#include "qc_common.h"
#include "qc_dense.h"
#include "qc_window.h"

namespace qc {

template <class CFG, class IN_V, class OUT_V>
void conv(hls::stream<IN_V> &in, hls::stream<OUT_V> &out,
          const typename CFG::weight_t w[CFG::n_in * CFG::n_out], const typename CFG::bias_t b[CFG::n_out]) {
#pragma HLS DATAFLOW
    hls::stream<typename CFG::win_t> windows("windows");
    sliding_window<CFG>(in, windows, typename CFG::x_t(0));
    mac_array<CFG>(windows, out, w, b);
}

}  // namespace qc

#endif
