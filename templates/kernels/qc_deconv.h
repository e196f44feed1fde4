// qcompile: the phase interleave of a polyphase ConvTranspose (compiler/ops/deconv_shuffle.py).
// The Conv in front writes, per coarse pixel (qh, qw), every phase (rh, rw) of every output
// channel (coarse channel g*(P*cg) + (rh*sw + rw)*cg + j is output channel g*cg + j); output
// pixel (oh, ow) is phase ((oh + off_h) % sh, (ow + off_w) % sw) of coarse pixel
// ((oh + off_h) / sh, (ow + off_w) / sw). Two coarse rows are buffered (ping-pong, each Cc
// element memories of in_w words): while the output rows of coarse row q are written, row
// q + 1 is read, one beat in and one beat out per cycle. Coarse rows no output uses are read
// and dropped. Values are only moved; the assignment to y_t is a fused quantizer's cast.
#ifndef QC_DECONV_H
#define QC_DECONV_H

#include "qc_common.h"

namespace qc {

template <class CFG, class IN_V, class OUT_V>
void deconv_shuffle(hls::stream<IN_V> &in, hls::stream<OUT_V> &out) {
    const unsigned P = CFG::sh * CFG::sw;
    const unsigned ROW_IN = CFG::in_w * CFG::in_beats, ROW_OUT = CFG::out_w * CFG::out_beats;
    static typename CFG::x_t line[2][CFG::in_w][CFG::in_c];  // static: rows can be large (C simulation stack)
#pragma HLS ARRAY_PARTITION variable=line complete dim=3
First:
    for (unsigned i = 0; i < ROW_IN; i++) {
#pragma HLS PIPELINE II=1
        IN_V x = in.read();
        for (unsigned k = 0; k < CFG::in_fold; k++) line[0][i / CFG::in_beats][(i % CFG::in_beats) * CFG::in_fold + k] = x.data[k];
    }
Rows:
    for (unsigned q = 0; q < CFG::in_h; q++) {
        const unsigned cur = q % 2;
        // output rows taken from coarse row q: oh with (oh + off_h) / sh == q
        int first = int(q * CFG::sh) - int(CFG::off_h), last = int((q + 1) * CFG::sh) - int(CFG::off_h);
        if (first < 0) first = 0;
        if (last > int(CFG::out_h)) last = CFG::out_h;
        const unsigned writes = last > first ? unsigned(last - first) * ROW_OUT : 0;
        const unsigned reads = q + 1 < CFG::in_h ? ROW_IN : 0;
        const unsigned steps = writes > reads ? writes : reads;
    Beats:
        for (unsigned s = 0; s < steps; s++) {
#pragma HLS PIPELINE II=1
            if (s < reads) {  // the next coarse row, into the other buffer
                IN_V x = in.read();
                const unsigned w = s / CFG::in_beats, b = s % CFG::in_beats;
                for (unsigned k = 0; k < CFG::in_fold; k++) line[1 - cur][w][b * CFG::in_fold + k] = x.data[k];
            }
            if (s < writes) {
                const unsigned oh = first + s / ROW_OUT, i = s % ROW_OUT;
                const unsigned ow = i / CFG::out_beats, b = i % CFG::out_beats;
                const unsigned v = ow + CFG::off_w, qw = v / CFG::sw;
                const unsigned phase = ((oh + CFG::off_h) % CFG::sh) * CFG::sw + v % CFG::sw;
                OUT_V y;
                for (unsigned k = 0; k < CFG::out_fold; k++) {
                    const unsigned c = b * CFG::out_fold + k;
                    y.data[k] = line[cur][qw][(c / CFG::cg) * (P * CFG::cg) + phase * CFG::cg + c % CFG::cg];
                }
                out.write(y);
            }
        }
    }
}

}  // namespace qc

#endif
