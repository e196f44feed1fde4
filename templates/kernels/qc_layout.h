// qcompile: data movement between stream layouts: regrouping items (repack, at any fold), reordering
// through a frame buffer (transpose), constant, edge and reflect padding, nearest-neighbour resizing and
// depth-to-space. Values are only moved; an assignment to the output type is the cast of a
// model quantizer fused onto the output (if any).
#ifndef QC_LAYOUT_H
#define QC_LAYOUT_H

#include "qc_common.h"

namespace qc {

// Reshape: the beats of one item size are the beats of the other (the same flat value
// sequence at the same FOLD): each beat passes through, cast to the output type.
template <class CFG, class IN_V, class OUT_V>
void repack(hls::stream<IN_V> &in, hls::stream<OUT_V> &out) {
Beats:
    for (unsigned b = 0; b < CFG::beats; b++) {
#pragma HLS PIPELINE II=1 rewind
        IN_V x = in.read();
        OUT_V y;
        for (unsigned c = 0; c < CFG::fold; c++) y.data[c] = x.data[c];
        out.write(y);
    }
}

// out_flat[i] = in_flat[order[i]] (order[i] == size: a zero): the whole tensor is buffered first.
template <class CFG, class IN_V, class OUT_V>
void transpose(hls::stream<IN_V> &in, hls::stream<OUT_V> &out,
               const typename CFG::index_t order[CFG::out_items * CFG::out_channels]) {
    static typename CFG::x_t buf[CFG::size];  // static: a frame can be large (C simulation stack)
Fill:
    for (unsigned i = 0; i < CFG::in_items; i++) {
#pragma HLS PIPELINE II=1
        IN_V x = in.read();
        for (unsigned c = 0; c < CFG::in_channels; c++) buf[i * CFG::in_channels + c] = x.data[c];
    }
Drain:
    for (unsigned o = 0; o < CFG::out_items; o++) {
        OUT_V y;
        for (unsigned c = 0; c < CFG::out_channels; c++) {
#pragma HLS PIPELINE II=1
            const unsigned i = order[o * CFG::out_channels + c].to_uint();
            y.data[c] = i < CFG::size ? buf[i] : typename CFG::x_t(0);
        }
        out.write(y);
    }
}

// Constant padding of an (H, W, C) image on every side and in the channels.
template <class CFG, class IN_V, class OUT_V>
void pad(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::y_t value) {
Rows:
    for (unsigned h = 0; h < CFG::out_h; h++) {
    Cols:
        for (unsigned w = 0; w < CFG::out_w; w++) {
#pragma HLS PIPELINE II=1
            const bool inside = h >= CFG::pt && h < CFG::pt + CFG::in_h && w >= CFG::pl && w < CFG::pl + CFG::in_w;
            IN_V x;
            if (inside) x = in.read();
            OUT_V y;
            for (unsigned c = 0; c < CFG::out_c; c++) {
                const bool real = inside && c >= CFG::pc && c < CFG::pc + CFG::in_c;
                y.data[c] = real ? typename CFG::y_t(x.data[real ? c - CFG::pc : 0]) : value;
            }
            out.write(y);
        }
    }
}

// Edge (MODE 1) or reflect (MODE 2) padding: the input index output index i - pad reads.
template <int MODE>
int pad_source(int i, int n) {
#pragma HLS INLINE
    if (i < 0) return MODE == 2 ? -i : 0;
    if (i >= n) return MODE == 2 ? 2 * (n - 1) - i : n - 1;
    return i;
}

// Edge or reflect padding of an (H, W, C) image on every side and in the channels. A line
// buffer keeps the last CFG::rows input rows (1 for edge, max(top, bottom) + 1 for reflect);
// each output row first reads the input rows up to the last one it or an earlier row reads,
// then writes its pixels (one per cycle), each a copy of its source pixel's source channels.
template <class CFG, class IN_V, class OUT_V>
void pad_mirror(hls::stream<IN_V> &in, hls::stream<OUT_V> &out) {
    static IN_V line[CFG::rows][CFG::in_w];  // static: C simulation stack
    unsigned have = 0;  // input rows read so far
    const int first = pad_source<CFG::mode>(-int(CFG::pt), CFG::in_h);
Rows:
    for (unsigned h = 0; h < CFG::out_h; h++) {
        const int src = pad_source<CFG::mode>(int(h) - int(CFG::pt), CFG::in_h);
        const int want = src > first ? src : first;
    Fetch:
        while (int(have) <= want) {
            for (unsigned w = 0; w < CFG::in_w; w++) {
#pragma HLS PIPELINE II=1
                line[have % CFG::rows][w] = in.read();
            }
            have++;
        }
    Cols:
        for (unsigned w = 0; w < CFG::out_w; w++) {
#pragma HLS PIPELINE II=1
            const IN_V x = line[unsigned(src) % CFG::rows][pad_source<CFG::mode>(int(w) - int(CFG::pl), CFG::in_w)];
            OUT_V y;
            for (unsigned c = 0; c < CFG::out_c; c++) {
                y.data[c] = x.data[pad_source<CFG::mode>(int(c) - int(CFG::pc), CFG::in_c)];
            }
            out.write(y);
        }
    }
}

// Nearest-neighbour resize: output row h copies input row rows[h] (non-decreasing), whose
// pixels are buffered; output column w takes pixel cols[w].
template <class CFG, class IN_V, class OUT_V>
void resize_nearest(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::row_t rows[CFG::out_h],
                    const typename CFG::col_t cols[CFG::out_w]) {
    IN_V line[CFG::in_w];
    unsigned have = 0;  // input rows read so far
Rows:
    for (unsigned h = 0; h < CFG::out_h; h++) {
        const unsigned want = rows[h].to_uint();
    Fetch:
        while (have <= want) {
            for (unsigned w = 0; w < CFG::in_w; w++) {
#pragma HLS PIPELINE II=1
                line[w] = in.read();
            }
            have++;
        }
    Cols:
        for (unsigned w = 0; w < CFG::out_w; w++) {
#pragma HLS PIPELINE II=1
            IN_V x = line[cols[w].to_uint()];
            OUT_V y;
            for (unsigned c = 0; c < CFG::channels; c++) y.data[c] = x.data[c];
            out.write(y);
        }
    }
Rest:  // input rows no output row uses
    for (; have < CFG::in_h; have++)
        for (unsigned w = 0; w < CFG::in_w; w++) in.read();
}

// (H, W, C*B*B) -> (H*B, W*B, C): one input row is buffered and written as B output rows.
template <class CFG, class IN_V, class OUT_V>
void depth_to_space(hls::stream<IN_V> &in, hls::stream<OUT_V> &out) {
    const unsigned B = CFG::block, CO = CFG::out_c;
    IN_V line[CFG::in_w];
Rows:
    for (unsigned h = 0; h < CFG::in_h; h++) {
        for (unsigned w = 0; w < CFG::in_w; w++) {
#pragma HLS PIPELINE II=1
            line[w] = in.read();
        }
        for (unsigned i = 0; i < B; i++) {
            for (unsigned w = 0; w < CFG::in_w * B; w++) {
#pragma HLS PIPELINE II=1
                const unsigned j = w % B;
                OUT_V y;
                for (unsigned c = 0; c < CO; c++) {
                    const unsigned ch = CFG::dcr ? (i * B + j) * CO + c : (c * B + i) * B + j;
                    y.data[c] = line[w / B].data[ch];
                }
                out.write(y);
            }
        }
    }
}

}  // namespace qc

#endif
