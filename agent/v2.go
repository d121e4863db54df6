package agent

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"

	v2 "github.com/wsp-tunnel/wsp/internal/v2"
	"github.com/wsp-tunnel/wsp/internal/wsconn"
)

// serveV2 serves HTTP over the streams of one v2 WebSocket until the
// session ends (it returns why) or ctx is done (it drains and returns nil).
func (a *Agent) serveV2(ctx context.Context, ws *websocket.Conn, log *slog.Logger) error {
	ws.SetReadLimit(4 * wsconn.DefaultMaxMessage)
	conn := wsconn.New(ws, wsconn.Config{})
	defer conn.Close()
	mux, err := yamux.Server(conn, v2.MuxConfig(a.cfg.PingInterval, a.cfg.MaxStreams, a.log))
	if err != nil {
		return err
	}
	defer mux.Close()
	epoch, thawed := a.freeze.current()
	fresh := &freshStreams{}
	// No read timeouts: each would arm a timer per request. Idle streams
	// are closed by the server's transport, and a dead session by the
	// keep-alive.
	srv := &http.Server{
		BaseContext:    func(net.Listener) context.Context { return withEpoch(context.Background(), epoch) },
		Handler:        a.handler,
		MaxHeaderBytes: 1 << 20,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ConnState:      fresh.track,
	}
	ln := newStreamListener(mux)
	defer func() { mux.Close(); <-ln.pumped }()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case <-mux.CloseChan():
		srv.Close()
		<-served
		if err := conn.Err(); err != nil {
			return err
		}
		return errors.New("session closed by the server")
	case <-ctx.Done():
		a.drainV2(mux, srv, fresh, log)
		<-served
		return nil
	case <-thawed:
		log.Warn("this process was frozen: closing its stale connection")
		mux.Close()
		srv.Close()
		<-served
		return errFrozen
	}
}

// drainV2 tells the server to open no more streams, lets requests in flight
// finish within the shutdown timeout, then closes everything.
func (a *Agent) drainV2(mux *yamux.Session, srv *http.Server, fresh *freshStreams, log *slog.Logger) {
	_ = mux.GoAway()
	fresh.closeAll()
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("shutdown timeout: aborting requests in flight", "err", err)
	}
	srv.Close()
	mux.Close()
}

// streamListener hands yamux streams to http.Server. Closing it stops
// Accept without closing the session, so that a graceful shutdown can let
// streams in flight finish. One pump goroutine accepts from the session; it
// ends when the session does.
type streamListener struct {
	mux       *yamux.Session
	streams   chan net.Conn
	closed    chan struct{}
	pumped    chan struct{} // closed when the pump exits
	closeOnce sync.Once
}

func newStreamListener(mux *yamux.Session) *streamListener {
	l := &streamListener{mux: mux, streams: make(chan net.Conn), closed: make(chan struct{}), pumped: make(chan struct{})}
	go l.pump()
	return l
}

func (l *streamListener) pump() {
	defer close(l.pumped)
	for {
		c, err := l.mux.Accept()
		if err != nil {
			return
		}
		select {
		case l.streams <- c:
		case <-l.closed:
			c.Close()
		}
	}
}

func (l *streamListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.streams:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-l.pumped:
		return nil, net.ErrClosed
	}
}

func (l *streamListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *streamListener) Addr() net.Addr { return l.mux.Addr() }

// freshStreams tracks the streams that have not carried a request yet. A
// server may open a stream and keep it unused (ours did while it used an
// http.Transport); on shutdown such streams are closed at once, where
// http.Server.Shutdown would wait 5 s for each to show a request.
type freshStreams struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (f *freshStreams) track(c net.Conn, state http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if state == http.StateNew {
		if f.conns == nil {
			f.conns = make(map[net.Conn]struct{})
		}
		f.conns[c] = struct{}{}
		return
	}
	delete(f.conns, c)
}

func (f *freshStreams) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
}
