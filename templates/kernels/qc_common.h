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

}  // namespace qc

#endif
