package v1

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestAgentGreetingOnFirstConn(t *testing.T) {
	server, client := wsPair(t)
	t.Cleanup(func() { server.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := AgentConfig{ID: "4b98d5a0-6794-421c-6a66-20f3edd81174", IdleSize: 10, MaxSize: 10,
		Dial:    func(context.Context) (*websocket.Conn, error) { return nil, errors.New("no dial in this test") },
		Backoff: func(int) time.Duration { return time.Hour },
		Handler: http.NotFoundHandler(), Logger: testLogger(t)}
	go func() { done <- RunAgent(ctx, cfg, client) }()
	typ, g := readMsg(t, server)
	if typ != websocket.TextMessage || string(g) != "4b98d5a0-6794-421c-6a66-20f3edd81174_10" {
		t.Errorf("greeting: opcode %d %q", typ, g)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunAgent = %v, want nil on cancellation", err)
	}
	if err := expectClosed(t, server); !websocket.IsCloseError(err, websocket.CloseGoingAway, websocket.CloseNormalClosure) {
		t.Errorf("server saw %v, want a close frame", err)
	}
}

func TestAgentPoolSizing(t *testing.T) {
	release := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release })
	srv, first := agentWith(t, AgentConfig{IdleSize: 1, MaxSize: 2, Handler: handler})
	noConn(t, srv, 200*time.Millisecond)
	sendRequest(t, first, get("http://api.internal/"), "")
	second := acceptAgent(t, srv)
	sendRequest(t, second, get("http://api.internal/"), "")
	noConn(t, srv, 1500*time.Millisecond) // past a periodic re-check
	close(release)
	for _, ws := range []*websocket.Conn{first, second} {
		if _, _, err := readResponse(t, ws); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAgentFillsIdleSize(t *testing.T) {
	srv, _ := agentWith(t, AgentConfig{IdleSize: 3, MaxSize: 5, Handler: http.NotFoundHandler()})
	acceptAgent(t, srv)
	acceptAgent(t, srv)
	noConn(t, srv, 1200*time.Millisecond)
}

func noConn(t *testing.T, srv *wsServer, d time.Duration) {
	t.Helper()
	select {
	case ws := <-srv.conns:
		ws.Close()
		t.Fatal("unexpected connection")
	case <-time.After(d):
	}
}

func TestAgentBackoff(t *testing.T) {
	srv := newWSServer(t)
	var mu sync.Mutex
	var attempts []int
	fails := 3
	dial := func(ctx context.Context) (*websocket.Conn, error) {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return nil, errors.New("refused")
		}
		return srv.dial(ctx)
	}
	backoff := func(n int) time.Duration {
		mu.Lock()
		attempts = append(attempts, n)
		mu.Unlock()
		return 10 * time.Millisecond
	}
	startAgent(t, AgentConfig{ID: "agent-1", IdleSize: 1, MaxSize: 1, Dial: dial, Backoff: backoff, Handler: http.NotFoundHandler()})
	ws := acceptAgent(t, srv)
	mu.Lock()
	fails = 1
	mu.Unlock()
	ws.Close() // the agent redials: one failure, then a success
	acceptAgent(t, srv)
	mu.Lock()
	defer mu.Unlock()
	if want := []int{1, 2, 3, 1}; !equalInts(attempts, want) {
		t.Errorf("backoff attempts %v, want %v (reset after a successful dial)", attempts, want)
	}
}

func equalInts(a, b []int) bool { return bytes.Equal(intsBytes(a), intsBytes(b)) }

func intsBytes(a []int) []byte {
	out := make([]byte, len(a))
	for i, v := range a {
		out[i] = byte(v)
	}
	return out
}

func TestAgentPing(t *testing.T) {
	t.Run("pings a live server", func(t *testing.T) {
		_, ws := agentWith(t, AgentConfig{PingInterval: 10 * time.Millisecond, Handler: http.NotFoundHandler()})
		pings := make(chan struct{}, 100)
		ws.SetPingHandler(func(string) error {
			pings <- struct{}{}
			return ws.WriteControl(websocket.PongMessage, nil, time.Now().Add(time.Second))
		})
		go ws.ReadMessage() // process control frames until the end of the test
		for range 5 {
			select {
			case <-pings:
			case <-time.After(5 * time.Second):
				t.Fatal("no ping")
			}
		}
	})
	t.Run("drops a silent server", func(t *testing.T) {
		srv, ws := agentWith(t, AgentConfig{PingInterval: 10 * time.Millisecond, Handler: http.NotFoundHandler()})
		_ = ws // never read: no pong
		acceptAgent(t, srv)
	})
}

func TestAgentConfigValidate(t *testing.T) {
	ok := AgentConfig{ID: "a", Dial: func(context.Context) (*websocket.Conn, error) { return nil, nil }, Handler: http.NotFoundHandler()}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []func(c *AgentConfig){
		func(c *AgentConfig) { c.ID = "" },
		func(c *AgentConfig) { c.ID = "a b" },
		func(c *AgentConfig) { c.Dial = nil },
		func(c *AgentConfig) { c.Handler = nil },
		func(c *AgentConfig) { c.IdleSize, c.MaxSize = 5, 2 },
		func(c *AgentConfig) { c.IdleSize = -1 },
	}
	for i, f := range bad {
		c := ok
		f(&c)
		if c.Validate() == nil {
			t.Errorf("case %d: Validate accepted %+v", i, c)
		}
		if err := RunAgent(context.Background(), c, nil); err == nil {
			t.Errorf("case %d: RunAgent accepted an invalid config", i)
		}
	}
}

func TestDefaultBackoff(t *testing.T) {
	for n, hi := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 6: 30 * time.Second, 100: 30 * time.Second} {
		for range 20 {
			if d := DefaultBackoff(n); d < hi/2 || d > hi {
				t.Errorf("DefaultBackoff(%d) = %v, want in [%v, %v]", n, d, hi/2, hi)
			}
		}
	}
}
