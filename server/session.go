package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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

// session is one v2 agent connection: a yamux session over a WebSocket,
// on which the server opens one stream per HTTP connection.
type session struct {
	// static after construction
	id        string
	max       int64
	conn      *wsconn.Conn
	mux       *yamux.Session
	transport *http.Transport
	reg       *registry
	log       *slog.Logger

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
	s := &session{id: id, max: int64(maxStreams), conn: conn, mux: mux, reg: reg, log: log}
	s.transport = &http.Transport{
		DialContext:         s.dial,
		MaxIdleConnsPerHost: maxStreams,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		// Wait for the agent's 100 Continue, which it relays from the
		// internal API (its own wait is 1 s), so that a refused request's
		// body is never sent.
		ExpectContinueTimeout: 2 * time.Second,
		// Uploads leave in yamux frames of this size; reads bypass the
		// (default, 4 KiB) read buffer for the proxy's large copies.
		WriteBufferSize: 16 << 10,
	}
	return s, nil
}

// dial opens a stream to the agent.
func (s *session) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	st, err := s.mux.OpenStream()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
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
// proxyState.target, through a stream of this session.
func (s *session) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.transport.RoundTrip(req)
	if err == nil {
		return resp, nil
	}
	switch {
	case errors.Is(err, yamux.ErrRemoteGoAway):
		s.draining.Store(true)
		return nil, fmt.Errorf("agent %s: %w", s.id, ErrAgentDraining)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, err
	default:
		return nil, fmt.Errorf("agent %s: %w: %v", s.id, ErrAgentLost, err)
	}
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
		s.transport.CloseIdleConnections()
	})
}
