package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"

	v2 "github.com/wsp-tunnel/wsp/internal/v2"
	"github.com/wsp-tunnel/wsp/internal/wsconn"
)

// tunnelHost is the host name requests carry on their hop through a v2
// stream (see proxyState.target). The real destination travels in
// X-Proxy-Destination.
const tunnelHost = "wsp-agent"

// session is one v2 agent connection: a yamux session over a WebSocket.
// Each stream carries one exchange at a time (exchange.go); between
// exchanges it waits on the idle stack.
type session struct {
	// static after construction
	id   string
	max  int64
	conn *wsconn.Conn
	mux  *yamux.Session
	reg  *registry
	log  *slog.Logger

	mu     sync.Mutex    // guards idle and closed
	idle   []*streamConn // streams between exchanges, oldest first
	closed bool

	active    atomic.Int64 // leases held
	draining  atomic.Bool  // the agent sent GoAway or was replaced
	retired   atomic.Bool  // replaced: close once the last lease is released
	closeOnce sync.Once
}

func newSession(id string, maxStreams int, conn *wsconn.Conn, reg *registry, pingInterval time.Duration, log *slog.Logger) (*session, error) {
	mux, err := yamux.Client(conn, v2.MuxConfig(pingInterval, maxStreams, log))
	if err != nil {
		return nil, fmt.Errorf("start multiplexer: %w", err)
	}
	return &session{id: id, max: int64(maxStreams), conn: conn, mux: mux, reg: reg, log: log}, nil
}

// stream returns an idle stream, or opens one. It reports whether the
// stream carried an exchange before.
func (s *session) stream(ctx context.Context) (*streamConn, bool, error) {
	for {
		s.mu.Lock()
		n := len(s.idle)
		if n == 0 {
			s.mu.Unlock()
			break
		}
		c := s.idle[n-1]
		s.idle[n-1] = nil
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		if c.usable() {
			return c, true, nil
		}
		c.st.Close()
	}
	st, err := s.mux.OpenStream()
	if err != nil {
		return nil, false, err
	}
	if err := ctx.Err(); err != nil {
		st.Close()
		return nil, false, err
	}
	return newStreamConn(st), false, nil
}

// putIdle keeps c for the next exchange. The idle list is a stack: the
// streams at its bottom are the ones idle longest, and those idle for
// streamIdleTimeout are closed here.
func (s *session) putIdle(c *streamConn) {
	now := time.Now()
	c.since = now
	s.mu.Lock()
	if s.closed || int64(len(s.idle)) >= s.max {
		s.mu.Unlock()
		c.st.Close()
		return
	}
	var stale []*streamConn
	for len(s.idle) > 0 && now.Sub(s.idle[0].since) > streamIdleTimeout {
		stale = append(stale, s.idle[0])
		s.idle[0] = nil
		s.idle = s.idle[1:]
	}
	s.idle = append(s.idle, c)
	s.mu.Unlock()
	for _, c := range stale {
		c.st.Close()
	}
}

// tryAcquire takes a stream slot if one is free.
func (s *session) tryAcquire() bool {
	if s.draining.Load() {
		return false
	}
	for {
		n := s.active.Load()
		if n >= s.max {
			return false
		}
		if s.active.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release frees the slot taken by tryAcquire. The last release of a
// replaced session closes it.
func (s *session) Release() {
	if s.active.Add(-1) == 0 && s.retired.Load() {
		s.close()
	}
	s.reg.notify()
}

// RoundTrip sends req, already aimed at the tunnel host by
// proxyState.target, through a stream of this session. A request that
// found its idle stream closed by the agent is sent once more on another.
func (s *session) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		c, reused, err := s.stream(req.Context())
		if err != nil {
			return nil, s.mapError(req, err)
		}
		resp, retry, err := s.roundTrip(c, req)
		if err == nil {
			return resp, nil
		}
		if retry && reused && attempt == 0 && req.Context().Err() == nil {
			continue
		}
		return nil, s.mapError(req, err)
	}
}

func (s *session) mapError(req *http.Request, err error) error {
	if cerr := req.Context().Err(); cerr != nil {
		return cerr
	}
	if errors.Is(err, yamux.ErrRemoteGoAway) {
		s.draining.Store(true)
		return fmt.Errorf("agent %s: %w", s.id, ErrAgentDraining)
	}
	return fmt.Errorf("agent %s: %w: %v", s.id, ErrAgentLost, err)
}

// run waits for the session to end, then unregisters it.
func (s *session) run() {
	<-s.mux.CloseChan()
	s.reg.removeSession(s)
	s.close()
	s.log.Info("agent disconnected", "agent", s.id, "protocol", "v2")
}

// replaced is called when a newer session with the same id registered.
// The registry no longer hands out this session, so its lease count only
// falls: it finishes the requests in flight, then closes. A dead one (the
// usual reason an agent reconnects) is closed sooner by the keep-alive.
func (s *session) replaced() {
	s.log.Info("agent reconnected: retiring its older session", "agent", s.id, "in_flight", s.active.Load())
	s.draining.Store(true)
	s.retired.Store(true)
	if s.active.Load() == 0 {
		s.close()
	}
}

func (s *session) close() {
	s.closeOnce.Do(func() {
		s.draining.Store(true)
		s.mux.Close()
		s.conn.Close()
		s.mu.Lock()
		s.closed = true
		s.idle = nil
		s.mu.Unlock()
	})
}
