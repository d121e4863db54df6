package agent

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// errFrozen ends a connection that was open while this process was frozen.
var errFrozen = errors.New("this process was frozen: its connections are stale")

// freezeWatch notices that this process stopped running for a while
// (SIGSTOP, a paused VM or container, a suspended host). During a freeze a
// server may give up on requests it sent (a v2 server closes a silent
// session after two pings; over v1 the application times out), yet those
// requests wait in the socket buffers and would run when the process
// resumes: the application saw them fail, the internal API would still
// execute them. So each connection records the freeze epoch it started in;
// a request on a connection of an earlier epoch is refused, and such
// connections are closed (the agent reconnects).
type freezeWatch struct {
	// static after construction
	threshold time.Duration // a gap between ticks this long is a freeze
	tick      time.Duration
	start     time.Time // the monotonic origin of last

	last  atomic.Int64 // time of the last tick, since start
	epoch atomic.Int64 // freezes seen; written under mu

	mu     sync.Mutex
	thawed chan struct{} // guarded by mu: closed (and replaced) at each freeze
}

type epochKey struct{}

// minFreeze keeps scheduling hiccups (a GC pause, a busy host) from
// counting as freezes when the ping interval is tiny.
const minFreeze = 250 * time.Millisecond

// newFreezeWatch detects freezes of at least half the ping interval: a
// server with the same interval gives up on a silent agent no sooner than
// one interval.
func newFreezeWatch(pingInterval time.Duration) *freezeWatch {
	threshold := max(pingInterval/2, minFreeze)
	return &freezeWatch{threshold: threshold, tick: threshold / 4, start: time.Now(), thawed: make(chan struct{})}
}

func (w *freezeWatch) now() int64 { return int64(time.Since(w.start)) }

// run ticks until ctx is done.
func (w *freezeWatch) run(ctx context.Context) {
	t := time.NewTicker(w.tick)
	defer t.Stop()
	w.last.Store(w.now())
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.observe()
		}
	}
}

// observe runs at each tick. The new epoch is published before the tick
// time, so that fresh never sees a recent tick with the old epoch.
func (w *freezeWatch) observe() {
	now := w.now()
	if time.Duration(now-w.last.Load()) >= w.threshold {
		w.mu.Lock()
		w.epoch.Add(1)
		close(w.thawed)
		w.thawed = make(chan struct{})
		w.mu.Unlock()
	}
	w.last.Store(now)
}

// current returns the epoch a new connection belongs to, and a channel
// closed when that epoch ends.
func (w *freezeWatch) current() (int64, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.epoch.Load(), w.thawed
}

// fresh reports whether a connection of epoch e may still serve: no freeze
// since it started, and none going on that the ticker has not seen yet.
func (w *freezeWatch) fresh(e int64) bool {
	if time.Duration(w.now()-w.last.Load()) >= w.threshold {
		return false
	}
	return w.epoch.Load() == e
}

// withEpoch marks ctx as belonging to a connection of epoch e.
func withEpoch(ctx context.Context, e int64) context.Context {
	return context.WithValue(ctx, epochKey{}, e)
}

// refuseStale aborts a request that arrived on a connection older than the
// last freeze: it may be one the server already gave up on. Aborting (no
// answer, the connection is closed) is all that can be done: the server
// has no application left to answer, or will see the connection break.
func (h *handler) refuseStale(r *http.Request) {
	e, ok := r.Context().Value(epochKey{}).(int64)
	if !ok || h.freeze == nil || h.freeze.fresh(e) {
		return
	}
	h.log.Warn("request dropped: it arrived on a connection open while this process was frozen",
		"method", r.Method, "destination", r.Header.Get("X-Proxy-Destination"))
	panic(http.ErrAbortHandler)
}
