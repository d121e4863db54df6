package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/wsp-tunnel/wsp/internal/config"
	"github.com/wsp-tunnel/wsp/internal/rules"
	v2 "github.com/wsp-tunnel/wsp/internal/v2"
)

// Server routes applications' requests through connected agents. It is an
// http.Handler serving /register (agents), /request (applications) and
// /status.
type Server struct {
	// static after construction
	cfg      config.Server
	log      *slog.Logger
	rules    *rules.Set
	reg      *registry
	proxy    *httputil.ReverseProxy
	upgrader websocket.Upgrader
	mux      *http.ServeMux

	closeOnce sync.Once
}

// New returns a Server for cfg. A nil logger discards logs.
func New(cfg config.Server, log *slog.Logger) (*Server, error) {
	set, err := config.Prepare(&cfg)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, rules: set, reg: newRegistry(log)}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: handshakeTimeout,
		ReadBufferSize:   32 << 10,
		WriteBufferSize:  64 << 10,
		WriteBufferPool:  &sync.Pool{},
	}
	if cfg.Protocol != "v1" {
		s.upgrader.Subprotocols = []string{v2.Subprotocol}
	}
	s.proxy = s.newProxy()
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/register", s.register)
	s.mux.HandleFunc("/request", s.handleRequest)
	s.mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Agents lists the connected agents.
func (s *Server) Agents() []AgentInfo { return s.reg.list() }

// WaitForAgent blocks until an agent with this id is connected or ctx ends.
func (s *Server) WaitForAgent(ctx context.Context, id string) error {
	return s.reg.waitFor(ctx, id)
}

// Close disconnects every agent and waits for the server's goroutines. New
// requests fail with ErrShuttingDown. It is idempotent. Stop the listener
// (http.Server.Shutdown) first to let in-flight requests finish.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.reg.close()
	})
	return nil
}

// handleRequest proxies one application request through an agent.
func (s *Server) handleRequest(w http.ResponseWriter, r *http.Request) {
	dest, err := s.destination(r)
	if err != nil {
		drain(r.Body, 1<<20)
		s.writeError(w, r, err)
		return
	}
	l, err := s.acquire(r.Context())
	if err != nil {
		drain(r.Body, 1<<20)
		s.writeError(w, r, err)
		return
	}
	defer l.Release()
	st := &proxyState{lease: l, dest: dest}
	s.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
}

// acquire takes a free agent stream or connection, waiting up to the
// configured timeout for one. The common case, a slot free at once, needs
// no timer.
func (s *Server) acquire(ctx context.Context) (lease, error) {
	if l, err := s.reg.tryNow(); l != nil || err != nil {
		return l, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	return s.reg.acquire(ctx)
}

// destination parses X-PROXY-DESTINATION and applies the server's rules.
func (s *Server) destination(r *http.Request) (*urlDest, error) {
	raw := r.Header.Get("X-Proxy-Destination")
	if raw == "" {
		return nil, ErrNoDestination
	}
	u, err := rules.ParseDestination(raw)
	if err != nil {
		return nil, err
	}
	if err := s.rules.Check(r.Method, u, r.Header); err != nil {
		return nil, err
	}
	return &urlDest{u: u, raw: u.String()}, nil
}
