// qcompile: TopK over the channels of each item, by sequential insertion (compiler/ops/topk.py).
//
// A sorted list of K (value, index) entries in registers. Each value of a beat is inserted
// in turn, FOLD insertions chained inside one pipelined cycle: K comparators (strict, so an
// equal value stays behind the earlier ones: lower indices first, ONNX's tie rule), then the
// entries from the insertion point on move down one place. After the item's last beat the
// K values (or their indices) leave as one beat.
#ifndef QC_TOPK_H
#define QC_TOPK_H

#include "qc_common.h"

namespace qc {

template <class CFG, class IN_V, class OUT_V>
void topk(hls::stream<IN_V> &in, hls::stream<OUT_V> &out) {
    typename CFG::x_t val[CFG::k];
    typename CFG::idx_t idx[CFG::k];
    bool valid[CFG::k];
#pragma HLS ARRAY_PARTITION variable=val complete
#pragma HLS ARRAY_PARTITION variable=idx complete
#pragma HLS ARRAY_PARTITION variable=valid complete
    unsigned g = 0;
Beats:
    for (unsigned it = 0; it < CFG::items * CFG::groups; it++) {
#pragma HLS PIPELINE II=1
        if (g == 0) {
            for (unsigned j = 0; j < CFG::k; j++) {
#pragma HLS UNROLL
                valid[j] = false;
            }
        }
        IN_V x = in.read();
    Lanes:
        for (unsigned c = 0; c < CFG::fold; c++) {
#pragma HLS UNROLL
            const typename CFG::x_t v = x.data[c];
            const unsigned i = g * CFG::fold + c;
            bool better[CFG::k];
#pragma HLS ARRAY_PARTITION variable=better complete
            for (unsigned j = 0; j < CFG::k; j++) {
#pragma HLS UNROLL
                better[j] = !valid[j] || (CFG::largest ? v > val[j] : v < val[j]);
            }
            // from the last entry up, so each entry moves before the one above overwrites it
            for (int j = CFG::k - 1; j >= 0; j--) {
#pragma HLS UNROLL
                if (better[j]) {
                    if (j == 0 || !better[j - 1]) {
                        val[j] = v;
                        idx[j] = i;
                        valid[j] = true;
                    } else {
                        val[j] = val[j - 1];
                        idx[j] = idx[j - 1];
                        valid[j] = valid[j - 1];
                    }
                }
            }
        }
        if (g + 1 == CFG::groups) {
            OUT_V y;
            for (unsigned j = 0; j < CFG::k; j++) {
#pragma HLS UNROLL
                if (CFG::indices) {
                    y.data[j] = idx[j];
                } else {
                    y.data[j] = val[j];
                }
            }
            out.write(y);
            g = 0;
        } else {
            g++;
        }
    }
}

}  // namespace qc

#endif
