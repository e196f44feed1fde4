// qcompile: pooling, at FOLD channels per beat (G = C / FOLD beats per pixel).
// pool_stream: global pooling and windows that do not overlap: each pixel is folded into
//   its window's running max/sum as it arrives (OUT_W * G accumulator words; per-row and
//   per-column tables say which window a pixel belongs to and whether it is the window's
//   first or last real pixel), and a window's beat leaves with its last pixel.
// pool_sliced: overlapping windows from the sliced generator (channel-major: the taps of
//   one channel group in a row), reduced tap by tap in FOLD accumulators.
// pool (whole windows): the whole-window generator, all taps of all channels at once.
// Max pads with the type's minimum, so padding never wins; average pads with zeros and
// multiplies the exact sum by RECIP[n] (n = window size, or the window's cells inside the
// image), rounded once to the output type.
#ifndef QC_POOL_H
#define QC_POOL_H

#include "qc_common.h"
#include "qc_window.h"

namespace qc {

// Cells of output (oh, ow)'s window inside the image (the average's divisor without pads).
template <class CFG>
unsigned window_count(unsigned oh, unsigned ow) {
#pragma HLS INLINE
    unsigned rows = 0, cols = 0;
    for (unsigned i = 0; i < CFG::kh; i++) {
        const int r = int(oh * CFG::sh + i * CFG::dh) - int(CFG::pt);
        rows += (r >= 0 && r < int(CFG::in_h)) ? 1 : 0;
    }
    for (unsigned j = 0; j < CFG::kw; j++) {
        const int c = int(ow * CFG::sw + j * CFG::dw) - int(CFG::pl);
        cols += (c >= 0 && c < int(CFG::in_w)) ? 1 : 0;
    }
    return CFG::include_pad ? CFG::kh * CFG::kw : rows * cols;
}

template <class CFG>
typename CFG::acc_t pool_step(const typename CFG::acc_t &acc, const typename CFG::x_t &x, bool first) {
#pragma HLS INLINE
    if (first) return x;
    if (CFG::is_max) return x > acc ? typename CFG::acc_t(x) : acc;
    return acc + x;
}

template <class CFG, class V>
void pool_finish(const typename CFG::acc_t &acc, V &y, unsigned lane, const typename CFG::recip_t recip[],
                 unsigned n) {
#pragma HLS INLINE
    if (CFG::is_max) {
        y.data[lane] = acc;
    } else {
        typename CFG::prod_t p = acc * recip[n];
        y.data[lane] = p;
    }
}

// One beat of pool_stream: fold it into its window's accumulators, write the window's beat
// after its last pixel. Map entries: window index << 2 | first << 1 | last (index >= OUT:
// the pixel is in no window).
template <class CFG, class IN_V, class OUT_V, class ACC>
void pool_stream_beat(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::recip_t recip[],
                      unsigned rm, unsigned cm, unsigned g, ACC &acc) {
#pragma HLS INLINE
    IN_V x = in.read();
    const unsigned wr = rm >> 2, wc = cm >> 2;
    if (wr < CFG::out_h && wc < CFG::out_w) {
        const bool first = (rm & 2) && (cm & 2), last = (rm & 1) && (cm & 1);
        const unsigned idx = wc * CFG::groups + g;
        OUT_V y;
        for (unsigned k = 0; k < CFG::fold; k++) {
#pragma HLS UNROLL
            const typename CFG::acc_t v = pool_step<CFG>(acc[idx][k], x.data[k], first);
            acc[idx][k] = v;
            pool_finish<CFG>(v, y, k, recip, CFG::is_max ? 0 : window_count<CFG>(wr, wc));
        }
        if (last) out.write(y);
    }
}

template <class CFG, bool MEMORY> struct PoolStream;
// accumulators in registers (one beat per pixel, or few windows per row)
template <class CFG> struct PoolStream<CFG, false> {
    template <class IN_V, class OUT_V>
    static void run(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::recip_t recip[],
                    const typename CFG::map_t row_map[], const typename CFG::map_t col_map[]) {
        static typename CFG::acc_t acc[CFG::out_w * CFG::groups][CFG::fold];
#pragma HLS ARRAY_PARTITION variable=acc complete dim=0
        static unsigned r = 0, c = 0, g = 0;
    Beats:
        for (unsigned t = 0; t < CFG::in_h * CFG::in_w * CFG::groups; t++) {
#pragma HLS PIPELINE II=1 rewind
            pool_stream_beat<CFG>(in, out, recip, row_map[r].to_uint(), col_map[c].to_uint(), g, acc);
            step(g, CFG::groups) && step(c, CFG::in_w) && step(r, CFG::in_h);
        }
    }
};
// accumulators in a memory: the same word is read and written again only G >= 3 beats later
template <class CFG> struct PoolStream<CFG, true> {
    template <class IN_V, class OUT_V>
    static void run(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::recip_t recip[],
                    const typename CFG::map_t row_map[], const typename CFG::map_t col_map[]) {
        static typename CFG::acc_t acc[CFG::out_w * CFG::groups][CFG::fold];
#pragma HLS ARRAY_PARTITION variable=acc complete dim=2
#pragma HLS DEPENDENCE variable=acc inter false
        static unsigned r = 0, c = 0, g = 0;
    Beats:
        for (unsigned t = 0; t < CFG::in_h * CFG::in_w * CFG::groups; t++) {
#pragma HLS PIPELINE II=1 rewind
            pool_stream_beat<CFG>(in, out, recip, row_map[r].to_uint(), col_map[c].to_uint(), g, acc);
            step(g, CFG::groups) && step(c, CFG::in_w) && step(r, CFG::in_h);
        }
    }
};

template <class CFG, class IN_V, class OUT_V>
void pool_stream(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::recip_t recip[],
                 const typename CFG::map_t row_map[], const typename CFG::map_t col_map[]) {
    PoolStream<CFG, CFG::acc_memory>::run(in, out, recip, row_map, col_map);
}

template <class CFG, class WIN_V, class OUT_V>
void pool_reduce_sliced(hls::stream<WIN_V> &in, hls::stream<OUT_V> &out, const typename CFG::recip_t recip[]) {
    const unsigned K = CFG::fold, T = CFG::kh * CFG::kw;
    static typename CFG::acc_t acc[K];
#pragma HLS ARRAY_PARTITION variable=acc complete
    static unsigned tap = 0, g = 0, oh = 0, ow = 0;
Beats:
    for (unsigned t = 0; t < CFG::items * CFG::groups * T; t++) {
#pragma HLS PIPELINE II=1 rewind
        WIN_V x = in.read();
        OUT_V y;
        for (unsigned k = 0; k < K; k++) {
#pragma HLS UNROLL
            const typename CFG::acc_t v = pool_step<CFG>(acc[k], x.data[k], tap == 0);
            acc[k] = v;
            pool_finish<CFG>(v, y, k, recip, CFG::is_max ? 0 : window_count<CFG>(oh, ow));
        }
        if (tap + 1 == T) out.write(y);
        step(tap, T) && step(g, CFG::groups) && step(ow, CFG::out_w) && step(oh, CFG::out_h);
    }
}

template <class CFG, class WIN_V, class OUT_V>
void pool_reduce(hls::stream<WIN_V> &in, hls::stream<OUT_V> &out, const typename CFG::recip_t recip[]) {
    const unsigned C = CFG::channels, T = CFG::kh * CFG::kw;
Windows:
    for (unsigned it = 0; it < CFG::items; it++) {
#pragma HLS PIPELINE II=1 rewind
        WIN_V x = in.read();
        OUT_V y;
        const unsigned n = CFG::is_max ? 1 : window_count<CFG>(it / CFG::out_w, it % CFG::out_w);
        for (unsigned c = 0; c < C; c++) {
#pragma HLS UNROLL
            if (CFG::is_max) {
                typename CFG::x_t m = x.data[c];
                for (unsigned t = 1; t < T; t++)
                    if (x.data[t * C + c] > m) m = x.data[t * C + c];
                y.data[c] = m;
            } else {
                typename CFG::sum_t s = 0;
                for (unsigned t = 0; t < T; t++) s += x.data[t * C + c];
                typename CFG::prod_t p = s * recip[n];
                y.data[c] = p;
            }
        }
        out.write(y);
    }
}

template <class CFG, class IN_V, class OUT_V>
void pool(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::recip_t recip[],
          const typename CFG::x_t pad) {
#pragma HLS DATAFLOW
    hls::stream<typename CFG::win_t> windows("windows");
    sliding_window<CFG>(in, windows, pad);
    pool_reduce<CFG>(windows, out, recip);
}

template <class CFG, class IN_V, class OUT_V>
void pool_sliced(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::recip_t recip[],
                 const typename CFG::x_t pad) {
#pragma HLS DATAFLOW
    hls::stream<IN_V> windows("windows");
    swg<CFG>(in, windows, pad);
    pool_reduce_sliced<CFG>(windows, out, recip);
}

}  // namespace qc

#endif
