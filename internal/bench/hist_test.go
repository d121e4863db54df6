package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsAreContiguous(t *testing.T) {
	for i := 1; i < numBuckets; i++ {
		lo := lowerBound(i)
		if got := bucketOf(lo); got != i {
			t.Fatalf("bucketOf(lowerBound(%d)=%d) = %d", i, lo, got)
		}
		if got := bucketOf(lo - 1); got != i-1 {
			t.Fatalf("bucketOf(%d) = %d, want %d", lo-1, got, i-1)
		}
	}
}

func TestQuantileWithinPrecision(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Hist
	var vals []time.Duration
	for range 100000 {
		d := time.Duration(r.ExpFloat64() * float64(300*time.Microsecond))
		vals = append(vals, d)
		h.Record(d)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := vals[int(q*float64(len(vals)))-1]
		got := h.Quantile(q)
		if diff := float64(got-want) / float64(want); diff > 0.01 || diff < -0.01 {
			t.Errorf("q%v: got %v, want %v (±1%%)", q, got, want)
		}
	}
	if h.Count() != int64(len(vals)) {
		t.Errorf("count %d, want %d", h.Count(), len(vals))
	}
}

func TestMergeAndEdges(t *testing.T) {
	var a, b, empty Hist
	if empty.Quantile(0.5) != 0 || empty.Mean() != 0 {
		t.Fatal("empty histogram must report zeros")
	}
	a.Record(time.Millisecond)
	b.Record(3 * time.Millisecond)
	b.Record(-time.Second)    // clamped to 0
	b.Record(100 * time.Hour) // beyond the range: last bucket
	a.Merge(&b)
	a.Merge(&empty)
	if got := a.Count(); got != 4 {
		t.Fatalf("count %d, want 4", got)
	}
	if got := a.Quantile(1); got != 100*time.Hour {
		t.Errorf("max quantile %v, want 100h", got)
	}
	if got := a.Quantile(0); got != 0 {
		t.Errorf("min quantile %v, want 0", got)
	}
}
