// qcompile: dense MAC array with a reuse factor.
//
// The n_in*n_out products are spread over BLOCK = ceil(n_in*n_out / REUSE) multipliers;
// the pipelined reuse loop runs REUSE iterations (II=1), each multiplier handling weight
// index r + k*REUSE. REUSE = 1 unrolls every product (constant weights, zeros vanish).
// The accumulator type is sized by the compiler so the sum is exact; the only rounding is
// the final cast to the output type (after the optional fused ReLU).
#ifndef QC_DENSE_H
#define QC_DENSE_H

#include "qc_common.h"

namespace qc {

template <class CFG>
void dense_vector(const typename CFG::x_t x[CFG::n_in], typename CFG::y_t y[CFG::n_out],
                  const typename CFG::weight_t w[CFG::n_in * CFG::n_out],
                  const typename CFG::bias_t b[CFG::n_out]) {
#pragma HLS INLINE
    const unsigned N = CFG::n_in * CFG::n_out;
    typename CFG::accum_t acc[CFG::n_out];
#pragma HLS ARRAY_PARTITION variable=acc complete
#pragma HLS ARRAY_PARTITION variable=w cyclic factor=CFG::block
Init:
    for (unsigned j = 0; j < CFG::n_out; j++) {
#pragma HLS UNROLL
        acc[j] = b[j];
    }
Reuse:
    for (unsigned r = 0; r < CFG::reuse; r++) {
#pragma HLS PIPELINE II=1
    Mac:
        for (unsigned k = 0; k < CFG::block; k++) {
#pragma HLS UNROLL
            const unsigned idx = r + k * CFG::reuse;
            if (idx < N) {
                acc[idx % CFG::n_out] += x[idx / CFG::n_out] * w[idx];
            }
        }
    }
Out:
    for (unsigned j = 0; j < CFG::n_out; j++) {
#pragma HLS UNROLL
        typename CFG::accum_t a = acc[j];
        if (CFG::relu && a < 0) a = 0;
        y[j] = a;
    }
}

// Multiplier-free variants (same loop structure and reuse factor; the accumulated values
// equal the products' exactly, so the simulator does not distinguish them):
// weights in {-1, 0, +1} select x, -x or nothing; with bipolar inputs too, each product is
// an XNOR of the two signs (+1 when they agree), i.e. a popcount.
template <class CFG>
void dense_vector_signed(const typename CFG::x_t x[CFG::n_in], typename CFG::y_t y[CFG::n_out],
                         const typename CFG::weight_t w[CFG::n_in * CFG::n_out],
                         const typename CFG::bias_t b[CFG::n_out]) {
#pragma HLS INLINE
    const unsigned N = CFG::n_in * CFG::n_out;
    typename CFG::accum_t acc[CFG::n_out];
#pragma HLS ARRAY_PARTITION variable=acc complete
#pragma HLS ARRAY_PARTITION variable=w cyclic factor=CFG::block
Init:
    for (unsigned j = 0; j < CFG::n_out; j++) {
#pragma HLS UNROLL
        acc[j] = b[j];
    }
Reuse:
    for (unsigned r = 0; r < CFG::reuse; r++) {
#pragma HLS PIPELINE II=1
    Sel:
        for (unsigned k = 0; k < CFG::block; k++) {
#pragma HLS UNROLL
            const unsigned idx = r + k * CFG::reuse;
            if (idx < N) {
                const typename CFG::x_t v = x[idx / CFG::n_out];
                if (w[idx] > 0) acc[idx % CFG::n_out] += v;
                else if (w[idx] < 0) acc[idx % CFG::n_out] -= v;
            }
        }
    }
Out:
    for (unsigned j = 0; j < CFG::n_out; j++) {
#pragma HLS UNROLL
        typename CFG::accum_t a = acc[j];
        if (CFG::relu && a < 0) a = 0;
        y[j] = a;
    }
}

template <class CFG>
void dense_vector_xnor(const typename CFG::x_t x[CFG::n_in], typename CFG::y_t y[CFG::n_out],
                       const typename CFG::weight_t w[CFG::n_in * CFG::n_out],
                       const typename CFG::bias_t b[CFG::n_out]) {
#pragma HLS INLINE
    const unsigned N = CFG::n_in * CFG::n_out;
    typename CFG::accum_t acc[CFG::n_out];
#pragma HLS ARRAY_PARTITION variable=acc complete
#pragma HLS ARRAY_PARTITION variable=w cyclic factor=CFG::block
Init:
    for (unsigned j = 0; j < CFG::n_out; j++) {
#pragma HLS UNROLL
        acc[j] = b[j];
    }
Reuse:
    for (unsigned r = 0; r < CFG::reuse; r++) {
#pragma HLS PIPELINE II=1
    Xnor:
        for (unsigned k = 0; k < CFG::block; k++) {
#pragma HLS UNROLL
            const unsigned idx = r + k * CFG::reuse;
            if (idx < N) {
                const bool agree = (x[idx / CFG::n_out] > 0) == (w[idx] > 0);
                if (agree) acc[idx % CFG::n_out] += 1;
                else acc[idx % CFG::n_out] -= 1;
            }
        }
    }
Out:
    for (unsigned j = 0; j < CFG::n_out; j++) {
#pragma HLS UNROLL
        typename CFG::accum_t a = acc[j];
        if (CFG::relu && a < 0) a = 0;
        y[j] = a;
    }
}

enum DenseKernel { MAC = 0, SIGNED = 1, XNOR = 2 };

template <int K> struct DenseVector;
template <> struct DenseVector<MAC> {
    template <class CFG> static void run(const typename CFG::x_t *x, typename CFG::y_t *y,
                                         const typename CFG::weight_t *w, const typename CFG::bias_t *b) {
#pragma HLS INLINE
        dense_vector<CFG>(x, y, w, b);
    }
};
template <> struct DenseVector<SIGNED> {
    template <class CFG> static void run(const typename CFG::x_t *x, typename CFG::y_t *y,
                                         const typename CFG::weight_t *w, const typename CFG::bias_t *b) {
#pragma HLS INLINE
        dense_vector_signed<CFG>(x, y, w, b);
    }
};
template <> struct DenseVector<XNOR> {
    template <class CFG> static void run(const typename CFG::x_t *x, typename CFG::y_t *y,
                                         const typename CFG::weight_t *w, const typename CFG::bias_t *b) {
#pragma HLS INLINE
        dense_vector_xnor<CFG>(x, y, w, b);
    }
};

template <class CFG, class IN_V, class OUT_V>
void dense(hls::stream<IN_V> &in, hls::stream<OUT_V> &out,
           const typename CFG::weight_t w[CFG::n_in * CFG::n_out], const typename CFG::bias_t b[CFG::n_out]) {
Items:
    for (unsigned it = 0; it < CFG::items; it++) {
        IN_V x = in.read();
        OUT_V y;
        DenseVector<CFG::kernel>::template run<CFG>(x.data, y.data, w, b);
        out.write(y);
    }
}

}  // namespace qc

#endif
