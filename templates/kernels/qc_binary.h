// qcompile: element-wise stages of two operands with broadcasting, one beat per cycle
// (compiler/ops/_broadcast.py describes the walk):
//   binary           y = f(x, z) for Add, Sub, reversed Sub, Mul (exact product), Max, Min of
//                    two activations: z from the second stream, read once per item of its own
//                    and reused from a buffer where it is broadcast
//   square           y = x * x (Mul of a tensor by itself)
//   position_affine  y = x * s[p] + t[p], constants per position from a ROM
//   prelu_positions  y = x < 0 ? x * slope[p] : x, slopes per position from a ROM
// Every value is computed exactly in ACC_T (the binary points aligned), then cast once to the
// output type. The compiler's simulators (compiler/ops/{add_broadcast,mul,minmax,
// position_affine,prelu}.py) model each step bit for bit.
#ifndef QC_BINARY_H
#define QC_BINARY_H

#include "qc_common.h"

namespace qc {

enum BinaryFunc { BIN_ADD = 0, BIN_SUB = 1, BIN_RSUB = 2, BIN_MUL = 3, BIN_MAX = 4, BIN_MIN = 5 };

// Where the streamed tensor is: beat g of the item at spatial coordinates (i0, i1, i2, i3)
// (CFG::d0..d3, padded in front with 1s). fresh(): every broadcast coordinate is 0, so the
// broadcast operand's item is needed for the first time; word(): that item's beat in the
// buffer or ROM (strides CFG::s0..s3 in items, CFG::b_groups beats per item).
template <class CFG>
struct Positions {
    unsigned g, i0, i1, i2, i3;
    Positions() : g(0), i0(0), i1(0), i2(0), i3(0) {}
    bool fresh() const {
#pragma HLS INLINE
        return (!CFG::bc0 || i0 == 0) && (!CFG::bc1 || i1 == 0) && (!CFG::bc2 || i2 == 0) && (!CFG::bc3 || i3 == 0);
    }
    unsigned word() const {
#pragma HLS INLINE
        return (i0 * CFG::s0 + i1 * CFG::s1 + i2 * CFG::s2 + i3 * CFG::s3) * CFG::b_groups +
               (CFG::b_groups == 1 ? 0 : g);
    }
    void next() {
#pragma HLS INLINE
        if (g + 1 < CFG::groups) {
            g++;
            return;
        }
        g = 0;
        if (++i3 < CFG::d3) return;
        i3 = 0;
        if (++i2 < CFG::d2) return;
        i2 = 0;
        if (++i1 < CFG::d1) return;
        i1 = 0;
        if (++i0 < CFG::d0) return;
        i0 = 0;
    }
};

template <int FUNC, class ACC, class X, class Z>
ACC binary_lane(const X &x, const Z &z) {
#pragma HLS INLINE
    ACC v;
    if (FUNC == BIN_ADD) {
        v = x;
        v += z;
    } else if (FUNC == BIN_SUB) {
        v = x;
        v -= z;
    } else if (FUNC == BIN_RSUB) {
        v = z;
        v -= x;
    } else if (FUNC == BIN_MUL) {
        v = x * z;
    } else if (FUNC == BIN_MAX) {
        if (x < z) v = z;
        else v = x;
    } else {
        if (z < x) v = z;
        else v = x;
    }
    return v;
}

// a: the full-shape stream; b: the (possibly broadcast) one, CFG::b_fold lanes per beat.
template <class CFG, class A_V, class B_V, class OUT_V>
void binary(hls::stream<A_V> &a, hls::stream<B_V> &b, hls::stream<OUT_V> &out) {
    static typename CFG::b_t buf[CFG::b_words][CFG::b_fold];  // the broadcast operand's reuse buffer
    static Positions<CFG> pos;
Beats:
    for (unsigned it = 0; it < CFG::items * CFG::groups; it++) {
#pragma HLS PIPELINE II=1 rewind
        const unsigned w = pos.word();
        A_V x = a.read();
        typename CFG::b_t z[CFG::b_fold];
        if (pos.fresh() && (CFG::b_lanes || pos.g == 0)) {
            B_V zb = b.read();
            for (unsigned l = 0; l < CFG::b_fold; l++) {
                z[l] = zb.data[l];
                if (CFG::reuses) buf[w][l] = z[l];
            }
        } else {
            for (unsigned l = 0; l < CFG::b_fold; l++) z[l] = buf[w][l];
        }
        OUT_V y;
        for (unsigned c = 0; c < CFG::fold; c++) {
#pragma HLS UNROLL
            y.data[c] = binary_lane<CFG::func, typename CFG::acc_t>(x.data[c], z[CFG::b_lanes ? c : 0]);
        }
        out.write(y);
        pos.next();
    }
}

template <class CFG, class IN_V, class OUT_V>
void square(hls::stream<IN_V> &in, hls::stream<OUT_V> &out) {
Beats:
    for (unsigned it = 0; it < CFG::items * CFG::groups; it++) {
#pragma HLS PIPELINE II=1 rewind
        IN_V x = in.read();
        OUT_V y;
        for (unsigned c = 0; c < CFG::fold; c++) {
#pragma HLS UNROLL
            typename CFG::acc_t v = x.data[c] * x.data[c];
            y.data[c] = v;
        }
        out.write(y);
    }
}

template <class CFG, class IN_V, class OUT_V>
void position_affine(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::scale_t s[],
                     const typename CFG::shift_t t[]) {
    static Positions<CFG> pos;
Beats:
    for (unsigned it = 0; it < CFG::items * CFG::groups; it++) {
#pragma HLS PIPELINE II=1 rewind
        const unsigned w = pos.word() * CFG::b_fold;
        IN_V x = in.read();
        OUT_V y;
        for (unsigned c = 0; c < CFG::fold; c++) {
#pragma HLS UNROLL
            const unsigned k = w + (CFG::b_lanes ? c : 0);
            typename CFG::accum_t v = x.data[c] * s[CFG::has_scale ? k : 0];
            v += t[CFG::has_shift ? k : 0];
            y.data[c] = v;
        }
        out.write(y);
        pos.next();
    }
}

template <class CFG, class IN_V, class OUT_V>
void prelu_positions(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::slope_t slope[]) {
    static Positions<CFG> pos;
Beats:
    for (unsigned it = 0; it < CFG::items * CFG::groups; it++) {
#pragma HLS PIPELINE II=1 rewind
        const unsigned w = pos.word() * CFG::b_fold;
        IN_V x = in.read();
        OUT_V y;
        for (unsigned c = 0; c < CFG::fold; c++) {
#pragma HLS UNROLL
            typename CFG::x_t xv = x.data[c];
            typename CFG::accum_t v;
            if (xv < 0) v = xv * slope[w + (CFG::b_lanes ? c : 0)];
            else v = xv;
            y.data[c] = v;
        }
        out.write(y);
        pos.next();
    }
}

}  // namespace qc

#endif
