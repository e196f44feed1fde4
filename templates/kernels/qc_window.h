// qcompile: the sliding-window generators shared by convolution and pooling.
//
// sliding_window (whole windows): walks the padded image (HP x WP positions, raster order)
// at one position per cycle, reading a whole pixel from the stream where the position is
// inside the image and generating the pad value elsewhere. A line buffer keeps the last
// EKH-1 padded rows (one memory per row, WP words of one whole pixel each) and a register
// window the last EKW columns of EKH rows; at each position where a (strided) window ends,
// its KH x KW taps (dilated) go out as one beat, tap-major: data[(i*KW + j)*C + c].
//
// swg (sliced windows, FINN's ConvolutionInputGenerator): the image arrives in beats of
// FOLD channels (G = C / FOLD beats per pixel) into a ring of RING rows of real pixels
// (padding is generated, never stored). When the rows of output row oh are complete, its
// windows leave as FOLD-wide slices, KH*KW*G beats each: tap-major (tap, group; the order
// of a convolution's weight rows) or channel-major (group, tap; depthwise and pooling).
// While a row of windows leaves, the rows of the next one are read into ring slots no
// window of this row uses, so the ring is never written where it is read. At most one
// beat in and one out per cycle; the loop runs exactly CFG::cycles times per image (the
// compiler's swg_cycles), ending with every pixel read and every window written.
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

template <class CFG, class IN_V, class OUT_V>
void swg(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::x_t pad) {
    typedef typename CFG::x_t x_t;
    const int IH = CFG::in_h, IW = CFG::in_w, G = CFG::groups, K = CFG::fold, NB = CFG::ring;
    const int KH = CFG::kh, KW = CFG::kw, OUT_H = CFG::out_h, OUT_W = CFG::out_w;
    static x_t ring[NB * IW * G][K];
#pragma HLS ARRAY_PARTITION variable=ring complete dim=2
#pragma HLS DEPENDENCE variable=ring inter false
    // reading: the next beat's row (IH: the image is read), column, group; row rr's slot
    static int rr = 0, rc = 0, rg = 0, wslot = 0;
    // emitting: output row and column, tap (ti, tj) and group of the next beat
    static int oh = 0, ow = 0, ti = 0, tj = 0, eg = 0;
    static int need = CFG::need0;        // rows output row oh needs
    static int need_next = CFG::need1;   // rows the next output row needs (IH after the last)
Cycles:
    for (unsigned t = 0; t < CFG::cycles; t++) {
#pragma HLS PIPELINE II=1 rewind
        const bool emitting = oh < OUT_H && rr >= need;
        const int limit = oh < OUT_H ? (emitting ? need_next : need) : IH;
        if (rr < limit) {
            IN_V v = in.read();
            for (int k = 0; k < K; k++) ring[(wslot * IW + rc) * G + rg][k] = v.data[k];
            if (step(rg, G) && step(rc, IW)) {
                rr++;
                step(wslot, NB);
            }
        }
        if (emitting) {
            const int r = oh * CFG::sh - CFG::pt + ti * CFG::dh;
            const int c = ow * CFG::sw - CFG::pl + tj * CFG::dw;
            const bool inside = r >= 0 && r < IH && c >= 0 && c < IW;
            const int slot = inside ? r % NB : 0;
            const int addr = (slot * IW + (inside ? c : 0)) * G + eg;
            OUT_V y;
            for (int k = 0; k < K; k++) y.data[k] = inside ? ring[addr][k] : pad;
            out.write(y);
            const bool window_done = CFG::channel_major ? step(tj, KW) && step(ti, KH) && step(eg, G)
                                                        : step(eg, G) && step(tj, KW) && step(ti, KH);
            if (window_done) {
                if (step(ow, OUT_W)) {
                    oh++;
                    need = need_next;
                    const int nn = (oh + 1) * CFG::sh + CFG::ekh - CFG::pt;
                    need_next = oh + 1 < OUT_H ? (nn < 0 ? 0 : (nn > IH ? IH : nn)) : IH;
                }
            }
        }
        if (oh == OUT_H && rr == IH) {  // the image is done: start the next one
            rr = 0;
            wslot = 0;
            oh = 0;
            need = CFG::need0;
            need_next = CFG::need1;
        }
    }
}

}  // namespace qc

#endif
