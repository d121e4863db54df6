package agent

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestFreezeWatchNoticesAGap(t *testing.T) {
	w := newFreezeWatch(time.Second) // a freeze is a gap of 500 ms or more
	w.last.Store(w.now())
	e0, thawed := w.current()
	if !w.fresh(e0) {
		t.Fatal("a connection of the current epoch is not fresh")
	}
	w.observe()
	if e, _ := w.current(); e != e0 {
		t.Fatalf("a tick without a gap changed the epoch to %d", e)
	}
	w.last.Store(w.now() - int64(600*time.Millisecond)) // frozen for 600 ms
	if w.fresh(e0) {
		t.Fatal("fresh during a freeze the ticker has not seen yet")
	}
	w.observe()
	select {
	case <-thawed:
	default:
		t.Fatal("the epoch's channel was not closed by the freeze")
	}
	e1, _ := w.current()
	if e1 != e0+1 || w.fresh(e0) || !w.fresh(e1) {
		t.Fatalf("after a freeze: epoch %d (was %d), old fresh %v, new fresh %v", e1, e0, w.fresh(e0), w.fresh(e1))
	}
}

func TestStaleRequestIsDropped(t *testing.T) {
	h := &handler{log: slog.New(slog.NewTextHandler(io.Discard, nil)), freeze: newFreezeWatch(time.Second)}
	h.freeze.last.Store(h.freeze.now())
	e, _ := h.freeze.current()
	cases := []struct {
		name string
		ctx  context.Context
		drop bool
	}{
		{"no epoch", context.Background(), false},
		{"current epoch", withEpoch(context.Background(), e), false},
		{"older epoch", withEpoch(context.Background(), e-1), true},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", "/", nil).WithContext(tc.ctx)
		got := func() (dropped bool) {
			defer func() { dropped = recover() == http.ErrAbortHandler }()
			h.refuseStale(r)
			return false
		}()
		if got != tc.drop {
			t.Errorf("%s: dropped %v, want %v", tc.name, got, tc.drop)
		}
	}
}
