package agent

import (
	"testing"
	"time"
)

func TestBackoffGrowsWithJitterWithinBounds(t *testing.T) {
	lo, hi := 100*time.Millisecond, 3*time.Second
	cases := []struct {
		attempt int
		ceiling time.Duration
	}{
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{3, 400 * time.Millisecond},
		{5, 1600 * time.Millisecond},
		{6, 3 * time.Second},
		{50, 3 * time.Second},
	}
	for _, tc := range cases {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := backoff(tc.attempt, lo, hi)
			if d < tc.ceiling/2 || d > tc.ceiling {
				t.Fatalf("attempt %d: %v outside [%v, %v]", tc.attempt, d, tc.ceiling/2, tc.ceiling)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("attempt %d: only %d distinct delays in 200: no jitter", tc.attempt, len(seen))
		}
	}
}
