package server

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeSession is a v2 session without a connection: enough for the
// registry's bookkeeping.
func fakeSession(r *registry, id string, max int) *session {
	s := &session{id: id, max: int64(max), reg: r}
	r.mu.Lock()
	r.entryLocked(id).v2 = s
	r.mu.Unlock()
	return s
}

func TestAcquireWithoutAgents(t *testing.T) {
	r := newRegistry(slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.acquire(ctx); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("got %v, want ErrNoAgent", err)
	}
}

func TestAcquireRespectsStreamCap(t *testing.T) {
	r := newRegistry(slog.New(slog.DiscardHandler))
	s := fakeSession(r, "a", 2)
	for range 2 {
		if _, err := r.acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.acquire(ctx); !errors.Is(err, ErrAgentsBusy) {
		t.Fatalf("third acquire: got %v, want ErrAgentsBusy", err)
	}
	if got := s.active.Load(); got != 2 {
		t.Fatalf("active = %d, want 2", got)
	}
}

func TestReleaseWakesWaiter(t *testing.T) {
	r := newRegistry(slog.New(slog.DiscardHandler))
	s := fakeSession(r, "a", 1)
	l, err := r.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l2, err := r.acquire(ctx)
		if err == nil {
			l2.Release()
		}
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	l.Release()
	if err := <-got; err != nil {
		t.Fatalf("waiter: %v", err)
	}
	if n := s.active.Load(); n != 0 {
		t.Fatalf("active = %d after all releases", n)
	}
}

func TestAcquireSpreadsOverAgents(t *testing.T) {
	r := newRegistry(slog.New(slog.DiscardHandler))
	a, b := fakeSession(r, "a", 1000), fakeSession(r, "b", 1000)
	for range 400 {
		if _, err := r.acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	na, nb := a.active.Load(), b.active.Load()
	if na < 120 || nb < 120 {
		t.Fatalf("uneven spread over two agents: %d / %d", na, nb)
	}
}

func TestClosedRegistryRefuses(t *testing.T) {
	r := newRegistry(slog.New(slog.DiscardHandler))
	fakeSession(r, "a", 1)
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	if _, err := r.acquire(context.Background()); !errors.Is(err, ErrShuttingDown) {
		t.Fatalf("got %v, want ErrShuttingDown", err)
	}
}

func TestDrainingSessionIsSkipped(t *testing.T) {
	r := newRegistry(slog.New(slog.DiscardHandler))
	s := fakeSession(r, "a", 10)
	s.draining.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.acquire(ctx); !errors.Is(err, ErrAgentsBusy) {
		t.Fatalf("got %v, want ErrAgentsBusy", err)
	}
}
