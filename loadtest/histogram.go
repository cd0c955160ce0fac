package loadtest

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// subBuckets is the number of buckets per power of two of nanoseconds: a
// recorded duration is kept within 1/64 (1.6 %) of its value, in a fixed
// 30 KiB whatever the run's length.
const (
	subBits    = 7
	subBuckets = 1 << subBits // values below this are exact
	halfSub    = subBuckets / 2
	numBuckets = subBuckets + (64-subBits)*halfSub
)

// Histogram records durations for quantiles. It is safe for concurrent use:
// every field is updated atomically, so virtual users never wait on each
// other to record.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	count  atomic.Uint64
	sum    atomic.Uint64 // nanoseconds
	max    atomic.Uint64 // nanoseconds
}

// bucketOf maps a duration in nanoseconds to its bucket: exact below
// subBuckets, then halfSub buckets for each power of two.
func bucketOf(v uint64) int {
	n := bits.Len64(v)
	if n <= subBits {
		return int(v)
	}
	shift := n - subBits
	top := v >> shift // in [halfSub, subBuckets)
	return subBuckets + (shift-1)*halfSub + int(top-halfSub)
}

// bucketMid returns the middle of bucket i's range, in nanoseconds.
func bucketMid(i int) uint64 {
	if i < subBuckets {
		return uint64(i)
	}
	i -= subBuckets
	shift := i/halfSub + 1
	top := uint64(i%halfSub + halfSub)
	lo := top << shift
	return lo + (uint64(1)<<shift)/2
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucketOf(v)].Add(1)
	h.count.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count returns how many durations were recorded.
func (h *Histogram) Count() uint64 { return h.count.Load() }

// Quantile returns the duration below or at which a fraction q (0 < q <= 1)
// of the recorded ones fall, within 1.6 %; the exact maximum for q >= 1 and
// zero for an empty histogram. Call it once recording has stopped.
func (h *Histogram) Quantile(q float64) time.Duration {
	total := h.count.Load()
	if total == 0 {
		return 0
	}
	if q >= 1 {
		return time.Duration(h.max.Load())
	}
	rank := uint64(q*float64(total) + 0.999999) // ceil without float trouble at exact ranks
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(min(bucketMid(i), h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// Mean returns the mean recorded duration, zero when empty.
func (h *Histogram) Mean() time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}
