package v1

import (
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// ServerConnConfig configures the server side of v1 connections.
type ServerConnConfig struct {
	Logger       *slog.Logger  // nil: discard
	MaxHeadBytes int           // cap on a response head; 0: DefaultMaxHeadBytes
	PingInterval time.Duration // send WS pings to the agent; 0: off
	// With pings on, an idle connection with no pong or message for
	// 2*PingInterval is closed. A busy one is not: a legacy agent does not
	// read (so does not answer pings) while it executes a request; the
	// request context bounds an exchange instead.
}

// ServerPool holds all v1 connections of one agent id on this server.
type ServerPool struct {
	// static after construction
	id          string
	idleSize    int
	idleTimeout time.Duration
	cfg         ServerConnConfig
	log         *slog.Logger
	notify      func()

	closeOnce  sync.Once
	stopReaper chan struct{}
	reaperDone chan struct{}
	done       chan struct{} // closed when empty (after an Add) or closed

	mu     sync.Mutex
	conns  map[*ServerConn]struct{} // guarded by mu
	idle   []*ServerConn            // guarded by mu; oldest first, acquired from the end
	added  bool                     // guarded by mu
	closed bool                     // guarded by mu
	isDone bool                     // guarded by mu
}

// NewServerPool returns an empty pool for the agent id. idleSize is the
// agent's greeting size: idle connections beyond it are closed once idle
// longer than idleTimeout (0: never). notify is called without locks held
// whenever a connection is added or becomes idle; it must not block.
func NewServerPool(id string, idleSize int, idleTimeout time.Duration, cfg ServerConnConfig, notify func()) *ServerPool {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if notify == nil {
		notify = func() {}
	}
	p := &ServerPool{
		id: id, idleSize: idleSize, idleTimeout: idleTimeout, cfg: cfg,
		log:        cfg.Logger.With("agent", id),
		notify:     notify,
		stopReaper: make(chan struct{}),
		reaperDone: make(chan struct{}),
		done:       make(chan struct{}),
		conns:      make(map[*ServerConn]struct{}),
	}
	go p.reaper()
	return p
}

// ID returns the agent id of the pool.
func (p *ServerPool) ID() string { return p.id }

// Add takes ownership of an upgraded v1 WebSocket whose greeting was already
// read, and starts serving it as an idle connection. If the pool is closed
// or Done, the connection is closed at once.
func (p *ServerPool) Add(ws *websocket.Conn) {
	sc := &ServerConn{pool: p, maxHead: p.cfg.MaxHeadBytes}
	sc.c = newConn(ws, p.log, p.cfg.PingInterval, func() { p.remove(sc) })
	p.mu.Lock()
	if p.closed || p.isDone {
		p.mu.Unlock()
		sc.c.close(errLocalClose)
		return
	}
	p.conns[sc] = struct{}{}
	p.added = true
	sc.idleSince = time.Now()
	p.idle = append(p.idle, sc)
	sc.c.start() // under mu, so that Close cannot miss its goroutines
	p.mu.Unlock()
	p.notify()
}

// TryAcquire picks an idle connection, marks it busy and returns it. The
// caller must call Release exactly once when done with it.
func (p *ServerPool) TryAcquire() (*ServerConn, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.idle) > 0 {
		sc := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if sc.c.closed() {
			continue // its onClose is about to remove it
		}
		sc.c.setBusy(true)
		return sc, true
	}
	return nil, false
}

// Len returns the number of open connections.
func (p *ServerPool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Idle returns the number of idle connections.
func (p *ServerPool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Done is closed when the pool has no connection left (after at least one
// was added) or was closed, so that a registry can drop the agent.
func (p *ServerPool) Done() <-chan struct{} { return p.done }

// Close closes every connection and waits for their goroutines and the
// reaper. It is idempotent. (A goroutine still copying a request body
// blocked in the caller's Body.Read is not waited for: it exits when that
// Read returns, see RoundTrip.)
func (p *ServerPool) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		all := make([]*ServerConn, 0, len(p.conns))
		for sc := range p.conns {
			all = append(all, sc)
		}
		p.mu.Unlock()
		close(p.stopReaper)
		for _, sc := range all {
			sc.c.close(errLocalClose)
		}
		<-p.reaperDone
		p.markDone()
	})
	return nil
}

func (p *ServerPool) markDone() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.markDoneLocked()
}

func (p *ServerPool) markDoneLocked() {
	if !p.isDone {
		p.isDone = true
		close(p.done)
	}
}

// remove is the onClose hook of every connection.
func (p *ServerPool) remove(sc *ServerConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, sc)
	p.dropIdleLocked(sc)
	if len(p.conns) == 0 && p.added {
		p.markDoneLocked()
	}
}

func (p *ServerPool) dropIdleLocked(sc *ServerConn) {
	for i, x := range p.idle {
		if x == sc {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			return
		}
	}
}

// markIdle returns a busy connection whose exchange ended cleanly.
func (p *ServerPool) markIdle(sc *ServerConn) {
	p.mu.Lock()
	_, open := p.conns[sc]
	if !open || sc.c.closed() {
		p.mu.Unlock()
		return
	}
	sc.c.setBusy(false)
	sc.idleSince = time.Now()
	p.idle = append(p.idle, sc)
	p.mu.Unlock()
	p.notify()
}

// reaper closes idle connections beyond idleSize idle for longer than
// idleTimeout, oldest first.
func (p *ServerPool) reaper() {
	defer close(p.reaperDone)
	if p.idleTimeout <= 0 {
		<-p.stopReaper
		return
	}
	t := time.NewTicker(min(max(p.idleTimeout/4, 10*time.Millisecond), time.Second))
	defer t.Stop()
	for {
		select {
		case <-p.stopReaper:
			return
		case <-t.C:
			for _, sc := range p.expired() {
				sc.c.close(errIdleTimeout)
			}
		}
	}
}

func (p *ServerPool) expired() []*ServerConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*ServerConn
	for len(p.idle) > p.idleSize && time.Since(p.idle[0].idleSince) > p.idleTimeout {
		out = append(out, p.idle[0])
		p.idle = p.idle[1:]
	}
	return out
}
