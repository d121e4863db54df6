package server

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	v1 "github.com/wsp-tunnel/wsp/internal/v1"
)

// lease is one request's claim on a connection (v1) or a stream slot (v2)
// of one agent. The holder calls RoundTrip at most once, then Release once.
type lease interface {
	RoundTrip(*http.Request) (*http.Response, error)
	Release()
}

// agentEntry is everything one agent id has on this server.
type agentEntry struct {
	id string
	v2 *session       // newest v2 session, or nil
	v1 *v1.ServerPool // legacy connections, or nil
}

// AgentInfo describes a connected agent, for listings and tests.
type AgentInfo struct {
	ID       string
	Protocol string // "v2" or "v1"
	Streams  int    // requests in flight (v2) or busy connections (v1)
	Capacity int    // stream cap (v2) or pooled connections (v1)
}

// registry owns the set of connected agents and is the one place where a
// request chooses its agent and connection.
type registry struct {
	// guarded by mu
	mu      sync.Mutex
	agents  map[string]*agentEntry
	order   []*agentEntry // the same entries, for random choice
	waiters int           // requests blocked in acquire
	changed chan struct{} // closed (and replaced) when capacity appears
	closed  bool
	retired map[*session]struct{} // replaced sessions still finishing requests

	// handshakes in progress and the goroutines that watch sessions and
	// pools: Add happens under mu while not closed, so close can wait.
	handshakes map[*websocket.Conn]struct{}
	wg         sync.WaitGroup

	log *slog.Logger // static after construction
}

func newRegistry(log *slog.Logger) *registry {
	return &registry{
		agents:     make(map[string]*agentEntry),
		changed:    make(chan struct{}),
		retired:    make(map[*session]struct{}),
		handshakes: make(map[*websocket.Conn]struct{}),
		log:        log,
	}
}

// startHandshake records an upgraded agent connection that is not
// registered yet, so that close can cut it. It returns false once the
// registry is closed; endHandshake must follow a true.
func (r *registry) startHandshake(ws *websocket.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.handshakes[ws] = struct{}{}
	r.wg.Add(1)
	return true
}

func (r *registry) endHandshake(ws *websocket.Conn) {
	r.mu.Lock()
	delete(r.handshakes, ws)
	r.mu.Unlock()
	r.wg.Done()
}

// acquire picks an agent with a free connection or stream, at random among
// those that have one, waiting until ctx is done if none has.
func (r *registry) acquire(ctx context.Context) (lease, error) {
	for {
		l, wait, err := r.tryAcquire()
		if l != nil || err != nil {
			return l, err
		}
		select {
		case <-wait:
			r.doneWaiting()
		case <-ctx.Done():
			r.doneWaiting()
			return nil, r.waitError(ctx)
		}
	}
}

// waitError says why a wait ended without a lease.
func (r *registry) waitError(ctx context.Context) error {
	if ctx.Err() == context.Canceled {
		return ctx.Err()
	}
	r.mu.Lock()
	n := len(r.order)
	r.mu.Unlock()
	if n == 0 {
		return ErrNoAgent
	}
	return ErrAgentsBusy
}

// tryNow takes a lease if one is free, without waiting.
func (r *registry) tryNow() (lease, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pickLocked()
}

func (r *registry) tryAcquire() (lease, <-chan struct{}, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l, err := r.pickLocked(); l != nil || err != nil {
		return l, nil, err
	}
	r.waiters++
	return nil, r.changed, nil
}

// pickLocked takes a free slot of an agent chosen at random among those
// that have one.
func (r *registry) pickLocked() (lease, error) {
	if r.closed {
		return nil, ErrShuttingDown
	}
	if n := len(r.order); n > 0 {
		start := rand.IntN(n)
		for i := range n {
			if l := r.order[(start+i)%n].tryAcquire(); l != nil {
				return l, nil
			}
		}
	}
	return nil, nil
}

func (e *agentEntry) tryAcquire() lease {
	if e.v2 != nil && e.v2.tryAcquire() {
		return e.v2
	}
	if e.v1 != nil {
		if c, ok := e.v1.TryAcquire(); ok {
			return c
		}
	}
	return nil
}

func (r *registry) doneWaiting() {
	r.mu.Lock()
	r.waiters--
	r.mu.Unlock()
}

// notify wakes waiting requests: a connection or stream became free.
func (r *registry) notify() {
	r.mu.Lock()
	if r.waiters > 0 {
		close(r.changed)
		r.changed = make(chan struct{})
	}
	r.mu.Unlock()
}

// entryLocked returns the entry for id, creating it.
func (r *registry) entryLocked(id string) *agentEntry {
	e := r.agents[id]
	if e == nil {
		e = &agentEntry{id: id}
		r.agents[id] = e
		r.order = append(r.order, e)
	}
	return e
}

// dropIfEmptyLocked forgets an entry that has no session and no pool.
func (r *registry) dropIfEmptyLocked(e *agentEntry) {
	if e.v2 != nil || e.v1 != nil {
		return
	}
	delete(r.agents, e.id)
	for i, o := range r.order {
		if o == e {
			r.order = append(r.order[:i], r.order[i+1:]...)
			break
		}
	}
}

// addSession makes s the v2 session of its agent. The newest session wins:
// an older one with the same id gets no new request and is closed once its
// requests in flight are done (see session.replaced), so one agent id never
// has two v2 sessions taking requests here. It returns false if the
// registry is closed.
func (r *registry) addSession(s *session) bool {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return false
	}
	e := r.entryLocked(s.id)
	old := e.v2
	e.v2 = s
	if old != nil {
		r.retired[old] = struct{}{}
	}
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		s.run()
	}()
	if old != nil {
		old.replaced()
	}
	r.notify()
	return true
}

// removeSession forgets s, which ended, if it is still its agent's
// session or a retired one.
func (r *registry) removeSession(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.retired, s)
	if e := r.agents[s.id]; e != nil && e.v2 == s {
		e.v2 = nil
		r.dropIfEmptyLocked(e)
	}
}

// v1Pool returns the pool for id, creating it with newPool (and a goroutine
// that forgets it once it has no connection left) when the agent has none.
// The bool is false if the registry is closed.
func (r *registry) v1Pool(id string, newPool func() *v1.ServerPool) (*v1.ServerPool, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, false
	}
	e := r.entryLocked(id)
	if e.v1 != nil {
		return e.v1, true
	}
	p := newPool()
	e.v1 = p
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		<-p.Done()
		r.removePool(id, p)
		p.Close()
		r.log.Info("agent disconnected", "agent", id, "protocol", "v1")
	}()
	return p, true
}

// removePool forgets p if it is still its agent's pool.
func (r *registry) removePool(id string, p *v1.ServerPool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.agents[id]; e != nil && e.v1 == p {
		e.v1 = nil
		r.dropIfEmptyLocked(e)
	}
}

// list returns the connected agents.
func (r *registry) list() []AgentInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]AgentInfo, 0, len(r.order))
	for _, e := range r.order {
		if s := e.v2; s != nil {
			out = append(out, AgentInfo{ID: e.id, Protocol: "v2", Streams: int(s.active.Load()), Capacity: int(s.max)})
		}
		if p := e.v1; p != nil {
			out = append(out, AgentInfo{ID: e.id, Protocol: "v1", Streams: p.Len() - p.Idle(), Capacity: p.Len()})
		}
	}
	return out
}

// close marks the registry closed, closes every session, pool and
// handshake in progress, and waits for their goroutines.
func (r *registry) close() {
	r.mu.Lock()
	r.closed = true
	for ws := range r.handshakes {
		ws.Close() // unblocks a greeting read; the handshake then fails
	}
	entries := append([]*agentEntry(nil), r.order...)
	retired := make([]*session, 0, len(r.retired))
	for s := range r.retired {
		retired = append(retired, s)
	}
	r.mu.Unlock()
	for _, s := range retired {
		s.close()
	}
	for _, e := range entries {
		r.mu.Lock()
		s, p := e.v2, e.v1
		r.mu.Unlock()
		if s != nil {
			s.close()
		}
		if p != nil {
			p.Close()
		}
	}
	r.notify()
	r.wg.Wait()
}

// waitFor is a helper for tests and callers that need an agent to appear.
func (r *registry) waitFor(ctx context.Context, id string) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		r.mu.Lock()
		_, ok := r.agents[id]
		r.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
