// qc::gather: an embedding lookup (compiler/ops/gather.py). Each index of an input beat reads
// one row of the table ROM (negative: from the end; out of range: the nearest row) and writes
// it as one output beat: one lookup per cycle.
#ifndef QC_GATHER_H
#define QC_GATHER_H

#include "qc_common.h"

namespace qc {

template <class CFG, class IN_V, class OUT_V>
void gather(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::table_t table[]) {
    IN_V x;
Lookups:
    for (unsigned it = 0; it < CFG::items * CFG::indices; it++) {
#pragma HLS PIPELINE II=1
        const unsigned l = it % CFG::indices;
        if (l == 0) x = in.read();
        long long i = x.data[l].to_int64();
        if (i < 0) i += CFG::rows;
        if (i < 0) i = 0;
        if (i >= (long long)CFG::rows) i = CFG::rows - 1;
        OUT_V y;
        for (unsigned j = 0; j < CFG::row_values; j++) {
#pragma HLS UNROLL
            y.data[j] = table[i * CFG::row_values + j];
        }
        out.write(y);
    }
}

}  // namespace qc

#endif
