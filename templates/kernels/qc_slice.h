// qcompile: slicing and tiling streams (compiler/ops/slice.py, compiler/ops/tile.py). Values are
// only selected or copied; an assignment to the output type is the cast of a model quantizer
// fused onto the output (if any).
#ifndef QC_SLICE_H
#define QC_SLICE_H

#include "qc_common.h"

namespace qc {

// One axis of a slice filter: coordinate i of D, kept when i = S + T*k with k < K. The state
// is a coordinate, the phase within the step and the coordinates taken so far; it returns to
// zero when the axis wraps, so a static instance is ready for the next inference.
template <unsigned D, unsigned S, unsigned T, unsigned K>
struct SliceAxis {
    typedef ap_uint<Log2Ceil<D + 1>::value + 1> count_t;
    count_t i, phase, taken;
    bool kept() const {
#pragma HLS INLINE
        return i >= S && phase == 0 && taken < K;
    }
    // Move to the next coordinate; true when the axis wraps to 0.
    bool next() {
#pragma HLS INLINE
        if (kept()) taken++;
        if (i >= S) phase = (phase + 1 == T) ? count_t(0) : count_t(phase + 1);
        if (i + 1 == D) {
            i = 0;
            phase = 0;
            taken = 0;
            return true;
        }
        i++;
        return false;
    }
};

// Slice as a streaming filter: every input beat is read (one per cycle); the beat is written
// when all four axes (three spatial, the channel axis counted in beats) keep its coordinate,
// its output lanes being input lanes lane_start + lane_step * c (wiring).
template <class CFG, class IN_V, class OUT_V>
void slice(hls::stream<IN_V> &in, hls::stream<OUT_V> &out) {
    static SliceAxis<CFG::d0, CFG::s0, CFG::t0, CFG::n0> a0;
    static SliceAxis<CFG::d1, CFG::s1, CFG::t1, CFG::n1> a1;
    static SliceAxis<CFG::d2, CFG::s2, CFG::t2, CFG::n2> a2;
    static SliceAxis<CFG::d3, CFG::s3, CFG::t3, CFG::n3> a3;
Beats:
    for (unsigned b = 0; b < CFG::in_beats; b++) {
#pragma HLS PIPELINE II=1 rewind
        IN_V x = in.read();
        if (a0.kept() && a1.kept() && a2.kept() && a3.kept()) {
            OUT_V y;
            for (int c = 0; c < int(CFG::fold_out); c++) {
#pragma HLS UNROLL
                y.data[c] = x.data[CFG::lane_start + CFG::lane_step * c];
            }
            out.write(y);
        }
        if (a3.next() && a2.next() && a1.next()) a0.next();
    }
}

// Output lane c of a tiled item is input lane c mod channels.
template <class CFG, class IN_V, class OUT_V>
OUT_V tile_lanes(const IN_V &x) {
#pragma HLS INLINE
    OUT_V y;
    for (unsigned c = 0; c < CFG::out_channels; c++) {
#pragma HLS UNROLL
        y.data[c] = x.data[c % CFG::channels];
    }
    return y;
}

// Tile: without spatial repeats a pipelined lane copy; with them, per block of items (the
// axes from the outermost repeated one inwards) Fill a buffer of one item per word, then
// Drain it in the output's order: output coordinate o_k reads input coordinate o_k mod b_k.
template <class CFG, class IN_V, class OUT_V>
void tile(hls::stream<IN_V> &in, hls::stream<OUT_V> &out) {
    if (!CFG::buffered) {
    Items:
        for (unsigned i = 0; i < CFG::outer; i++) {
#pragma HLS PIPELINE II=1 rewind
            out.write(tile_lanes<CFG, IN_V, OUT_V>(in.read()));
        }
        return;
    }
    static IN_V buf[CFG::block];  // static: a frame can be large (C simulation stack)
Blocks:
    for (unsigned o = 0; o < CFG::outer; o++) {
    Fill:
        for (unsigned i = 0; i < CFG::block; i++) {
#pragma HLS PIPELINE II=1
            buf[i] = in.read();
        }
        unsigned o0 = 0, o1 = 0, o2 = 0, q0 = 0, q1 = 0, q2 = 0;
    Drain:
        for (unsigned j = 0; j < CFG::block_out; j++) {
#pragma HLS PIPELINE II=1
            out.write(tile_lanes<CFG, IN_V, OUT_V>(buf[(q0 * CFG::b1 + q1) * CFG::b2 + q2]));
            step(q2, CFG::b2);
            if (step(o2, CFG::b2 * CFG::r2)) {
                step(q1, CFG::b1);
                if (step(o1, CFG::b1 * CFG::r1)) {
                    step(q0, CFG::b0);
                    step(o0, CFG::b0 * CFG::r0);
                }
            }
        }
    }
}

}  // namespace qc

#endif
