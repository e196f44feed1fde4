// qc::matmul: the product of two streams, y = a @ b per slice (compiler/ops/matmul.py).
// b's K rows (beats of N) are stored in K banks so one column is read per cycle; each row of
// a (one beat of K) then meets the N columns one per cycle: K multipliers and an adder tree.
#ifndef QC_MATMUL_H
#define QC_MATMUL_H

#include "qc_common.h"

namespace qc {

template <class CFG, class A_V, class B_V, class OUT_V>
void matmul(hls::stream<A_V> &a, hls::stream<B_V> &b, hls::stream<OUT_V> &out) {
    typename CFG::b_t buf[CFG::k][CFG::n];
#pragma HLS ARRAY_PARTITION variable=buf complete dim=1
Slices:
    for (unsigned s = 0; s < CFG::slices; s++) {
    LoadB:
        for (unsigned r = 0; r < CFG::k; r++) {
#pragma HLS PIPELINE II=1
            B_V row = b.read();
            for (unsigned j = 0; j < CFG::n; j++) {
#pragma HLS UNROLL
                buf[r][j] = row.data[j];
            }
        }
    Rows:
        for (unsigned i = 0; i < CFG::m; i++) {
            A_V x = a.read();
            OUT_V y;
        Columns:
            for (unsigned j = 0; j < CFG::n; j++) {
#pragma HLS PIPELINE II=1
                typename CFG::acc_t acc = 0;
                for (unsigned r = 0; r < CFG::k; r++) {
#pragma HLS UNROLL
                    acc += x.data[r] * buf[r][j];  // the exact product, summed exactly
                }
                y.data[j] = acc;
            }
            out.write(y);
        }
    }
}

}  // namespace qc

#endif
