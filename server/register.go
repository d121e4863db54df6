package server

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/websocket"

	v1 "github.com/wsp-tunnel/wsp/internal/v1"
	v2 "github.com/wsp-tunnel/wsp/internal/v2"
	"github.com/wsp-tunnel/wsp/internal/wsconn"
)

// handshakeTimeout bounds the WebSocket upgrade.
const handshakeTimeout = 10 * time.Second

// maxGreeting caps the v1 greeting message ("<id>_<size>").
const maxGreeting = 512

// register accepts an agent's WebSocket: the secret first, then the upgrade,
// then v2 (subprotocol wsp.v2) or v1 (a greeting message).
func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	wantsV2 := s.cfg.Protocol != "v1" && slices.Contains(websocket.Subprotocols(r), v2.Subprotocol)
	if !s.secretOK(r) {
		s.log.Warn("agent refused: invalid secret", "remote", r.RemoteAddr)
		status := legacyStatus
		if wantsV2 {
			status = http.StatusUnauthorized
		}
		http.Error(w, "Invalid X-SECRET-KEY", status)
		return
	}
	var hello v2.Hello
	if wantsV2 {
		var err error
		if hello, err = v2.ParseHello(r.Header); err != nil {
			s.log.Warn("agent refused", "remote", r.RemoteAddr, "err", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.log.Warn("agent upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	if !s.reg.startHandshake(ws) {
		ws.Close() // shutting down
		return
	}
	defer s.reg.endHandshake(ws)
	if ws.Subprotocol() == v2.Subprotocol {
		s.acceptV2(ws, hello)
		return
	}
	s.acceptV1(ws)
}

// secretOK compares the agent's secret in constant time. An empty server
// secret accepts every agent, as v1 did.
func (s *Server) secretOK(r *http.Request) bool {
	if s.cfg.SecretKey == "" {
		return true
	}
	got := r.Header.Get(v2.HeaderSecret)
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.SecretKey)) == 1
}

func (s *Server) acceptV2(ws *websocket.Conn, hello v2.Hello) {
	ws.SetReadLimit(4 * wsconn.DefaultMaxMessage)
	conn := wsconn.New(ws, wsconn.Config{})
	sess, err := newSession(hello.ID, hello.MaxStreams, conn, s.reg, s.cfg.PingInterval, s.log)
	if err != nil {
		s.log.Error("agent refused", "agent", hello.ID, "err", err)
		conn.Close()
		return
	}
	if !s.reg.addSession(sess) {
		sess.close()
		return
	}
	s.log.Info("agent connected", "agent", hello.ID, "protocol", "v2", "remote", ws.RemoteAddr().String(), "max_streams", hello.MaxStreams)
}

func (s *Server) acceptV1(ws *websocket.Conn) {
	id, size, err := readGreeting(ws, s.cfg.ReadHeaderTimeout)
	if err != nil {
		s.log.Warn("v1 agent refused", "remote", ws.RemoteAddr().String(), "err", err)
		msg := websocket.FormatCloseMessage(websocket.ClosePolicyViolation, truncate(err.Error(), 120))
		_ = ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		ws.Close()
		return
	}
	pool, ok := s.reg.v1Pool(id, func() *v1.ServerPool {
		return v1.NewServerPool(id, size, s.cfg.IdleTimeout, s.v1Config(), s.reg.notify)
	})
	if !ok {
		ws.Close()
		return
	}
	pool.Add(ws)
	s.log.Info("agent connected", "agent", id, "protocol", "v1", "remote", ws.RemoteAddr().String())
	s.reg.notify()
}

func (s *Server) v1Config() v1.ServerConnConfig {
	return v1.ServerConnConfig{Logger: s.log, PingInterval: s.cfg.PingInterval}
}

// readGreeting reads the v1 greeting under a deadline (the server's
// readheadertimeout, or handshakeTimeout if that is 0) and a size cap.
func readGreeting(ws *websocket.Conn, timeout time.Duration) (string, int, error) {
	if timeout <= 0 {
		timeout = handshakeTimeout
	}
	ws.SetReadLimit(maxGreeting)
	_ = ws.SetReadDeadline(time.Now().Add(timeout))
	typ, msg, err := ws.ReadMessage()
	if err != nil {
		return "", 0, fmt.Errorf("reading greeting: %w", err)
	}
	if typ != websocket.TextMessage {
		return "", 0, fmt.Errorf("greeting is not a text message")
	}
	id, size, err := v1.ParseGreeting(string(msg))
	if err != nil {
		return "", 0, err
	}
	if err := v2.ValidateID(id); err != nil {
		return "", 0, fmt.Errorf("greeting: %w", err)
	}
	_ = ws.SetReadDeadline(time.Time{})
	ws.SetReadLimit(0)
	return id, size, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
