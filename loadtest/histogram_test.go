package loadtest

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func TestBucketsCoverEveryValueInOrder(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 1<<40 + 12345, 1<<63 + 1, ^uint64(0)} {
		i := bucketOf(v)
		if i < prev || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d after %d (of %d)", v, i, prev, numBuckets)
		}
		prev = i
		if mid := bucketMid(i); v > 0 && (float64(mid) < float64(v)*0.98 || float64(mid) > float64(v)*1.02) {
			t.Errorf("bucketMid(bucketOf(%d)) = %d: more than 2%% off", v, mid)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	tests := []struct {
		name   string
		values func(i int) time.Duration
		n      int
		want   map[float64]time.Duration
	}{
		{"uniform 1..1000 ms", func(i int) time.Duration { return time.Duration(i+1) * time.Millisecond }, 1000,
			map[float64]time.Duration{0.5: 500 * time.Millisecond, 0.9: 900 * time.Millisecond, 0.99: 990 * time.Millisecond, 1: time.Second}},
		{"constant", func(int) time.Duration { return 3 * time.Millisecond }, 50,
			map[float64]time.Duration{0.5: 3 * time.Millisecond, 0.99: 3 * time.Millisecond, 1: 3 * time.Millisecond}},
		{"one slow outlier", func(i int) time.Duration {
			if i == 99 {
				return time.Second
			}
			return time.Millisecond
		}, 100, map[float64]time.Duration{0.5: time.Millisecond, 0.99: time.Millisecond, 1: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			for _, i := range rand.Perm(tt.n) {
				h.Record(tt.values(i))
			}
			if h.Count() != uint64(tt.n) {
				t.Fatalf("Count = %d, want %d", h.Count(), tt.n)
			}
			for q, want := range tt.want {
				got := h.Quantile(q)
				if float64(got) < float64(want)*0.98 || float64(got) > float64(want)*1.02 {
					t.Errorf("Quantile(%v) = %v, want %v within 2%%", q, got, want)
				}
			}
		})
	}
}

func TestHistogramEmptyAndNegative(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Mean() != 0 {
		t.Fatal("empty histogram must report zero")
	}
	h.Record(-time.Second)
	if h.Quantile(1) != 0 || h.Count() != 1 {
		t.Fatalf("negative duration: max %v count %d, want 0 and 1", h.Quantile(1), h.Count())
	}
}

func TestHistogramConcurrentRecord(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				h.Record(time.Duration(g*1000+i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if h.Count() != 8000 {
		t.Fatalf("Count = %d, want 8000", h.Count())
	}
	if h.Quantile(1) != 7999*time.Microsecond {
		t.Fatalf("max = %v, want 7.999ms", h.Quantile(1))
	}
}
