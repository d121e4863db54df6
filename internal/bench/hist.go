package bench

import (
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: 2^subBits buckets per power of
// two, so a recorded value is off by less than 1/2^subBits (0.8%).
const subBits = 7

// maxShift bounds the values kept: up to 2^(maxShift+subBits+1) ns (about
// 36 minutes); longer ones are counted in the last bucket.
const maxShift = 34

const numBuckets = (maxShift + 2) << subBits

// Hist is a log-linear histogram of durations with nanosecond input. The
// zero value is empty and ready; it is not safe for concurrent use (give
// each worker its own and Merge them).
type Hist struct {
	counts []uint32
	n      int64
	sum    time.Duration
	max    time.Duration
}

func bucketOf(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	if shift > maxShift {
		return numBuckets - 1
	}
	return (shift+1)<<subBits + int(v>>uint(shift)) - 1<<subBits
}

// lowerBound is the smallest value that falls in bucket i.
func lowerBound(i int) uint64 {
	if i < 1<<subBits {
		return uint64(i)
	}
	shift := i>>subBits - 1
	mant := uint64(i&(1<<subBits-1) + 1<<subBits)
	return mant << uint(shift)
}

// Record adds one duration.
func (h *Hist) Record(d time.Duration) {
	if h.counts == nil {
		h.counts = make([]uint32, numBuckets)
	}
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

// Merge adds o's values to h.
func (h *Hist) Merge(o *Hist) {
	if o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint32, numBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// Count is the number of values recorded.
func (h *Hist) Count() int64 { return h.n }

// Mean is the average value, 0 when empty.
func (h *Hist) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// Quantile returns the value at quantile q (0..1): the middle of the bucket
// holding it, never more than the largest value recorded. It is 0 when
// the histogram is empty.
func (h *Hist) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen int64
	for i, c := range h.counts {
		seen += int64(c)
		if seen >= rank {
			if i == numBuckets-1 {
				return h.max
			}
			lo, hi := lowerBound(i), lowerBound(i+1)
			mid := time.Duration(lo + (hi-lo)/2)
			return min(mid, h.max)
		}
	}
	return h.max
}
