// qcompile: reductions (sum, mean, max, min) over a block (outer, reduce, inner) of a
// stream's flat order, FOLD values per beat, one beat per cycle.
// reduce_items (inner > 1): whole items are accumulated: INNER / FOLD running words of FOLD
//   lanes (registers, or a memory whose word is revisited only WORDS >= 3 beats later);
//   each word's beat leaves with the last of its REDUCE items.
// reduce_lanes (inner = 1): every REDUCE consecutive values become one: a FOLD-input tree
//   per beat into one running value, a 1-value beat per group.
// Sums are exact (acc_t holds REDUCE terms); the mean is acc * RECIP rounded once to the
// output type; max/min select an input value.
#ifndef QC_REDUCE_H
#define QC_REDUCE_H

#include "qc_common.h"

namespace qc {

template <class CFG>
typename CFG::acc_t reduce_step(const typename CFG::acc_t &acc, const typename CFG::acc_t &x) {
#pragma HLS INLINE
    if (CFG::mode == 1) return x > acc ? x : acc;
    if (CFG::mode == 2) return x < acc ? x : acc;
    return acc + x;
}

template <class CFG, class T>
void reduce_finish(const typename CFG::acc_t &acc, T &y, const typename CFG::recip_t recip[]) {
#pragma HLS INLINE
    if (CFG::is_mean) {
        typename CFG::prod_t p = acc * recip[0];
        y = p;
    } else {
        y = acc;
    }
}

template <class CFG, class IN_V, class OUT_V, class ACC>
void reduce_items_beat(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::recip_t recip[],
                       unsigned w, unsigned r, ACC &acc) {
#pragma HLS INLINE
    IN_V x = in.read();
    OUT_V y;
    for (unsigned k = 0; k < CFG::fold; k++) {
#pragma HLS UNROLL
        const typename CFG::acc_t xv = x.data[k];
        const typename CFG::acc_t v = r == 0 ? xv : reduce_step<CFG>(acc[w][k], xv);
        acc[w][k] = v;
        reduce_finish<CFG>(v, y.data[k], recip);
    }
    if (r == CFG::reduce - 1) out.write(y);
}

template <class CFG, bool MEMORY> struct ReduceItems;
template <class CFG> struct ReduceItems<CFG, false> {
    template <class IN_V, class OUT_V>
    static void run(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::recip_t recip[]) {
        static typename CFG::acc_t acc[CFG::words][CFG::fold];
#pragma HLS ARRAY_PARTITION variable=acc complete dim=0
        static unsigned w = 0, r = 0;
    Beats:
        for (unsigned t = 0; t < CFG::beats; t++) {
#pragma HLS PIPELINE II=1 rewind
            reduce_items_beat<CFG>(in, out, recip, w, r, acc);
            step(w, CFG::words) && step(r, CFG::reduce);
        }
    }
};
template <class CFG> struct ReduceItems<CFG, true> {
    template <class IN_V, class OUT_V>
    static void run(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::recip_t recip[]) {
        static typename CFG::acc_t acc[CFG::words][CFG::fold];
#pragma HLS ARRAY_PARTITION variable=acc complete dim=2
#pragma HLS DEPENDENCE variable=acc inter false
        static unsigned w = 0, r = 0;
    Beats:
        for (unsigned t = 0; t < CFG::beats; t++) {
#pragma HLS PIPELINE II=1 rewind
            reduce_items_beat<CFG>(in, out, recip, w, r, acc);
            step(w, CFG::words) && step(r, CFG::reduce);
        }
    }
};

template <class CFG, class IN_V, class OUT_V>
void reduce_items(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::recip_t recip[]) {
    ReduceItems<CFG, CFG::acc_memory>::run(in, out, recip);
}

template <class CFG, class IN_V, class OUT_V>
void reduce_lanes(hls::stream<IN_V> &in, hls::stream<OUT_V> &out, const typename CFG::recip_t recip[]) {
    static typename CFG::acc_t acc;
    static unsigned g = 0;
Beats:
    for (unsigned t = 0; t < CFG::beats; t++) {
#pragma HLS PIPELINE II=1 rewind
        IN_V x = in.read();
        typename CFG::acc_t part = x.data[0];
        for (unsigned k = 1; k < CFG::fold; k++) {
#pragma HLS UNROLL
            part = reduce_step<CFG>(part, typename CFG::acc_t(x.data[k]));
        }
        const typename CFG::acc_t v = g == 0 ? part : reduce_step<CFG>(acc, part);
        acc = v;
        if (g == CFG::groups - 1) {
            OUT_V y;
            reduce_finish<CFG>(v, y.data[0], recip);
            out.write(y);
        }
        step(g, CFG::groups);
    }
}

}  // namespace qc

#endif
