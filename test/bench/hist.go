package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// hist is a lock-free latency histogram: 1 µs resolution below 128 µs,
// then 64 sub-buckets per power of two (under 1.6% error), so thousands of
// reader goroutines can record into one without a lock and percentiles
// need no stored samples.
//
// A negative latency is never clamped into a bucket: it can only come from
// a clock that went backwards (or a stamp from the future), so it is
// counted apart, in neg, and every goal fed by the histogram fails on it.
type hist struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	neg    atomic.Uint64 // negative samples, not in counts or n
	max    atomic.Int64  // nanoseconds, exact
}

const (
	histLinear  = 128
	histSub     = 64
	histBuckets = histLinear + 40*histSub
)

func bucketOf(us uint64) int {
	if us < histLinear {
		return int(us)
	}
	exp := bits.Len64(us) - 7 // us>>exp is in [64, 128)
	i := histLinear + (exp-1)*histSub + int(us>>uint(exp)) - histSub
	return min(i, histBuckets-1)
}

// bucketLow is the smallest value (µs) that falls in bucket i.
func bucketLow(i int) uint64 {
	if i < histLinear {
		return uint64(i)
	}
	exp := (i-histLinear)/histSub + 1
	return uint64((i-histLinear)%histSub+histSub) << uint(exp)
}

// bucketMid is a representative value for bucket i, in µs.
func bucketMid(i int) float64 {
	lo := bucketLow(i)
	if i+1 >= histBuckets {
		return float64(lo)
	}
	return (float64(lo) + float64(bucketLow(i+1))) / 2
}

func (h *hist) record(d time.Duration) {
	if d < 0 {
		h.neg.Add(1)
		return
	}
	h.counts[bucketOf(uint64(d/time.Microsecond))].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

func (h *hist) count() uint64 { return h.n.Load() }

// merge adds o's samples to h.
func (h *hist) merge(o *hist) {
	for i := range o.counts {
		h.counts[i].Add(o.counts[i].Load())
	}
	h.n.Add(o.n.Load())
	h.neg.Add(o.neg.Load())
	h.max.Store(max(h.max.Load(), o.max.Load()))
}

// quantile returns the q-quantile (0 < q ≤ 1), or -1 without samples.
func (h *hist) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return -1
	}
	if q >= 1 {
		return time.Duration(h.max.Load())
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			d := time.Duration(bucketMid(i) * float64(time.Microsecond))
			return min(d, time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// cdf returns (latency ms, cumulative fraction) points, one per non-empty
// bucket, for the chart.
func (h *hist) cdf() [][2]float64 {
	n := h.n.Load()
	if n == 0 {
		return nil
	}
	var out [][2]float64
	var seen uint64
	for i := range h.counts {
		c := h.counts[i].Load()
		if c == 0 {
			continue
		}
		seen += c
		hi := float64(bucketLow(min(i+1, histBuckets-1))) / 1000
		out = append(out, [2]float64{hi, float64(seen) / float64(n)})
	}
	return out
}

// summary is what a row prints for a histogram.
// Neg is the number of negative samples (clock bugs), which are not in N.
type summary struct {
	N, Neg        uint64
	P50, P99, Max time.Duration
}

func (h *hist) summary() summary {
	return summary{N: h.count(), Neg: h.neg.Load(), P50: h.quantile(0.50), P99: h.quantile(0.99), Max: h.quantile(1)}
}

// valid reports whether the summary is a measurement a goal can judge:
// some samples, none negative.
func (s summary) valid() bool { return s.N > 0 && s.Neg == 0 && s.P99 >= 0 }
