package server

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsp-tunnel/wsp/internal/config"
	v2 "github.com/wsp-tunnel/wsp/internal/v2"
)

func newTestServer(t *testing.T, mod func(*config.Server)) (*Server, string) {
	t.Helper()
	cfg := config.DefaultServer()
	cfg.ReadHeaderTimeout = 300 * time.Millisecond
	cfg.Timeout = 100 * time.Millisecond
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() { hs.Close(); s.Close() })
	return s, "ws" + strings.TrimPrefix(hs.URL, "http") + "/register"
}

// dialAgent opens a raw agent WebSocket with the given headers.
func dialAgent(t *testing.T, url string, h http.Header, subprotocols ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: subprotocols, HandshakeTimeout: 2 * time.Second}
	ws, resp, err := d.Dial(url, h)
	if ws != nil {
		t.Cleanup(func() { ws.Close() })
	}
	return ws, resp, err
}

// expectClosed waits for the server to close ws and returns the close error.
func expectClosed(t *testing.T, ws *websocket.Conn) error {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server did not close the connection")
			}
			return err
		}
	}
}

func TestMisbehavingV1AgentsAreClosed(t *testing.T) {
	cases := []struct {
		name string
		send func(ws *websocket.Conn) error
		want string // in the close reason, when a close frame is expected
	}{
		{"no underscore", func(ws *websocket.Conn) error { return ws.WriteMessage(websocket.TextMessage, []byte("agent-1")) }, "greeting"},
		{"bad size", func(ws *websocket.Conn) error { return ws.WriteMessage(websocket.TextMessage, []byte("agent-1_x")) }, "greeting"},
		{"binary greeting", func(ws *websocket.Conn) error { return ws.WriteMessage(websocket.BinaryMessage, []byte("agent-1_1")) }, "not a text message"},
		{"oversized greeting", func(ws *websocket.Conn) error {
			return ws.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("a", 4096)+"_1"))
		}, ""},
		{"no greeting", func(*websocket.Conn) error { return nil }, "greeting"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, url := newTestServer(t, nil)
			ws, _, err := dialAgent(t, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.send(ws); err != nil {
				t.Fatal(err)
			}
			err = expectClosed(t, ws)
			var ce *websocket.CloseError
			if tc.want != "" && (!errors.As(err, &ce) || !strings.Contains(ce.Text, tc.want)) {
				t.Errorf("closed with %v, want a close frame saying %q", err, tc.want)
			}
			if n := len(s.Agents()); n != 0 {
				t.Errorf("%d agents registered", n)
			}
		})
	}
}

func TestSecretChecks(t *testing.T) {
	_, url := newTestServer(t, func(c *config.Server) { c.SecretKey = "s3cret" })
	cases := []struct {
		name   string
		secret string
		proto  []string
		status int
	}{
		{"v1 wrong", "nope", nil, 526},
		{"v1 missing", "", nil, 526},
		{"v2 wrong", "nope", []string{v2.Subprotocol}, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.secret != "" {
				h[v2.HeaderSecret] = []string{tc.secret}
			}
			h.Set(v2.HeaderAgentID, "a1")
			_, resp, err := dialAgent(t, url, h, tc.proto...)
			if err == nil {
				t.Fatal("upgrade succeeded with a wrong secret")
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(body), "Invalid X-SECRET-KEY") {
				t.Fatalf("got %d %q, want %d Invalid X-SECRET-KEY", resp.StatusCode, body, tc.status)
			}
		})
	}
}

func TestBadV2HelloRefusedBeforeUpgrade(t *testing.T) {
	_, url := newTestServer(t, nil)
	h := http.Header{}
	h.Set(v2.HeaderAgentID, "bad_id")
	_, resp, err := dialAgent(t, url, h, v2.Subprotocol)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("got %v %v, want 400", resp, err)
	}
	resp.Body.Close()
}

func TestV2AgentRegistersAndNewestWins(t *testing.T) {
	s, url := newTestServer(t, nil)
	h := http.Header{}
	h.Set(v2.HeaderAgentID, "same")
	h.Set(v2.HeaderMaxStreams, "7")
	first, _, err := dialAgent(t, url, h, v2.Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	waitAgents(t, s, 1)
	if a := s.Agents()[0]; a.ID != "same" || a.Protocol != "v2" || a.Capacity != 7 {
		t.Fatalf("agent = %+v", a)
	}
	if _, _, err := dialAgent(t, url, h, v2.Subprotocol); err != nil {
		t.Fatal(err)
	}
	// The older session is closed by the server.
	expectClosed(t, first)
	waitAgents(t, s, 1)
}

func waitAgents(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for len(s.Agents()) != n {
		if time.Now().After(deadline) {
			t.Fatalf("agents = %+v, want %d", s.Agents(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStatusEndpoint(t *testing.T) {
	s, _ := newTestServer(t, nil)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
	if rec.Code != 200 || rec.Body.String() != "ok" {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
}

func TestLegacyStatusMode(t *testing.T) {
	s, _ := newTestServer(t, func(c *config.Server) { c.LegacyStatus = true })
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/request", nil))
	if rec.Code != 526 || !strings.Contains(rec.Body.String(), "X-PROXY-DESTINATION") {
		t.Fatalf("got %d %q, want 526", rec.Code, rec.Body.String())
	}
}

func TestStatusMapping(t *testing.T) {
	s, _ := newTestServer(t, nil)
	cases := []struct {
		dest string
		want int
	}{
		{"", 400},
		{"not a url", 400},
		{"http://127.0.0.1:1/x", 503}, // no agent within the timeout
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/request", nil)
		if tc.dest != "" {
			req.Header.Set("X-PROXY-DESTINATION", tc.dest)
		}
		s.ServeHTTP(rec, req)
		if rec.Code != tc.want || rec.Header().Get("X-Wsp-Error") == "" {
			t.Errorf("destination %q: got %d (%s), want %d", tc.dest, rec.Code, rec.Header().Get("X-Wsp-Error"), tc.want)
		}
	}
}
