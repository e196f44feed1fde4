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

// C simulation only: fill a fixed-point constant array from its integer codes (raw bits).
template <class T, unsigned N>
bool load_codes(T (&dst)[N], const long long (&codes)[N]) {
    for (unsigned i = 0; i < N; i++) dst[i].range(T::width - 1, 0) = codes[i];
    return true;
}

// A dataflow stream has exactly one reader: a tensor read by several stages is copied.
template <class V, unsigned ITEMS>
void fork(hls::stream<V> &in, hls::stream<V> &out0, hls::stream<V> &out1) {
Items:
    for (unsigned it = 0; it < ITEMS; it++) {
#pragma HLS PIPELINE II=1 rewind
        V v = in.read();
        out0.write(v);
        out1.write(v);
    }
}

}  // namespace qc

#endif
