// qcompile: sliding-window generator shared by convolution and pooling.
//
// Walks the padded image (HP x WP positions, raster order) at one position per cycle,
// reading a pixel from the stream where the position is inside the image and generating
// the pad value elsewhere. A line buffer keeps the last EKH-1 padded rows (one memory per
// row, WP words of one whole pixel each) and a register window the last EKW columns of EKH
// rows; at each position where a (strided) window ends, its KH x KW taps (dilated) go out
// as one item, tap-major: data[(i*KW + j)*C + c].
#ifndef QC_WINDOW_H
#define QC_WINDOW_H

#include "qc_common.h"

namespace qc {

template <class CFG, class IN_V, class WIN_V>
void sliding_window(hls::stream<IN_V> &in, hls::stream<WIN_V> &out, const typename CFG::x_t pad) {
    const unsigned C = CFG::channels;
    const unsigned EKH = CFG::ekh, EKW = CFG::ekw;
    typename CFG::x_t lines[CFG::lb_rows][CFG::wp][C];
#pragma HLS ARRAY_PARTITION variable=lines complete dim=1
#pragma HLS ARRAY_RESHAPE variable=lines complete dim=3
    typename CFG::x_t win[EKH][EKW][C];
#pragma HLS ARRAY_PARTITION variable=win complete dim=0
Rows:
    for (unsigned hp = 0; hp < CFG::hp; hp++) {
    Cols:
        for (unsigned wp = 0; wp < CFG::wp; wp++) {
#pragma HLS PIPELINE II=1
            const bool inside = hp >= CFG::pt && hp < CFG::pt + CFG::in_h && wp >= CFG::pl && wp < CFG::pl + CFG::in_w;
            typename CFG::x_t px[C];
            if (inside) {
                IN_V v = in.read();
                for (unsigned c = 0; c < C; c++) px[c] = v.data[c];
            } else {
                for (unsigned c = 0; c < C; c++) px[c] = pad;
            }
            // shift the window one column left; the new column is this column of the
            // buffered rows plus the new pixel
            for (unsigned r = 0; r < EKH; r++)
                for (unsigned k = 0; k + 1 < EKW; k++)
                    for (unsigned c = 0; c < C; c++) win[r][k][c] = win[r][k + 1][c];
            for (unsigned r = 0; r + 1 < EKH; r++)
                for (unsigned c = 0; c < C; c++) win[r][EKW - 1][c] = lines[r][wp][c];
            for (unsigned c = 0; c < C; c++) win[EKH - 1][EKW - 1][c] = px[c];
            if (EKH > 1) {
                for (unsigned r = 0; r + 2 < EKH; r++)
                    for (unsigned c = 0; c < C; c++) lines[r][wp][c] = lines[r + 1][wp][c];
                for (unsigned c = 0; c < C; c++) lines[EKH - 2][wp][c] = px[c];
            }
            if (hp + 1 >= EKH && wp + 1 >= EKW && (hp + 1 - EKH) % CFG::sh == 0 && (wp + 1 - EKW) % CFG::sw == 0 &&
                (hp + 1 - EKH) / CFG::sh < CFG::out_h && (wp + 1 - EKW) / CFG::sw < CFG::out_w) {
                WIN_V w;
                for (unsigned i = 0; i < CFG::kh; i++)
                    for (unsigned j = 0; j < CFG::kw; j++)
                        for (unsigned c = 0; c < C; c++)
                            w.data[(i * CFG::kw + j) * C + c] = win[i * CFG::dh][j * CFG::dw][c];
                out.write(w);
            }
        }
    }
}

}  // namespace qc

#endif
