// qcompile: shared definitions for the generated kernels.
#ifndef QC_COMMON_H
#define QC_COMMON_H

#include "ap_fixed.h"
#include "ap_int.h"
#include "hls_stream.h"

namespace qc {

// One stream item: the channels of one pixel (or the whole vector of a dense tensor).
template <class T, unsigned N>
struct vec {
    T data[N];
};

// A dataflow stream has exactly one reader: a tensor read by several stages is copied.
template <class V, unsigned ITEMS>
void fork(hls::stream<V> &in, hls::stream<V> &out0, hls::stream<V> &out1) {
Items:
    for (unsigned it = 0; it < ITEMS; it++) {
#pragma HLS PIPELINE II=1
        V v = in.read();
        out0.write(v);
        out1.write(v);
    }
}

}  // namespace qc

#endif
