package agent

import (
	"math/rand/v2"
	"time"
)

// backoff returns the delay before reconnect attempt n (n >= 1): it doubles
// from lo up to hi, and a random jitter takes it anywhere in [d/2, d] so that
// agents cut off together do not come back together.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	half := d / 2
	return half + rand.N(d-half+1)
}
