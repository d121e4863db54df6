package v1

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/websocket"
)

// tunnel is our ServerPool and our RunAgent connected over loopback.
type tunnel struct {
	pool      *ServerPool
	transport poolTransport
	register  *httptest.Server
}

// newTunnel starts a /register endpoint feeding a ServerPool and a RunAgent
// serving handler through it. Everything stops at the end of the test.
func newTunnel(t *testing.T, handler http.Handler, cfg AgentConfig) *tunnel {
	t.Helper()
	pool, notified := newTestPool(t, 1, 0, ServerConnConfig{})
	tn := &tunnel{pool: pool, transport: poolTransport{pool: pool, notified: notified}}
	up := websocket.Upgrader{}
	tn.register = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		_, msg, err := ws.ReadMessage()
		if err != nil {
			ws.Close()
			return
		}
		if _, _, err := ParseGreeting(string(msg)); err != nil {
			ws.Close()
			return
		}
		pool.Add(ws)
	}))
	t.Cleanup(tn.register.Close)
	ws := &wsServer{Server: tn.register}
	cfg.Dial = ws.dial
	cfg.Handler = handler
	if cfg.ID == "" {
		cfg.ID = "agent-1"
	}
	startAgent(t, cfg)
	eventually(t, "the agent to connect", func() bool { return pool.Idle() > 0 })
	return tn
}

func (tn *tunnel) do(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := tn.transport.RoundTrip(req)
	if err != nil {
		t.Fatalf("round trip: %v", err)
	}
	return resp
}

// patternReader yields n pseudo-random bytes without holding them.
type patternReader struct {
	rng *rand.ChaCha8
	n   int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n)]
	_, _ = r.rng.Read(p)
	r.n -= int64(len(p))
	return len(p), nil
}

func patternHash(n int64) [32]byte {
	h := sha256.New()
	_, _ = io.Copy(h, &patternReader{rng: rand.NewChaCha8([32]byte{7}), n: n})
	return [32]byte(h.Sum(nil))
}

func echoHandler(w http.ResponseWriter, r *http.Request) {
	if cl := r.Header.Get("Content-Length"); cl != "" {
		w.Header().Set("Content-Length", cl)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, r.Body)
}

func TestTunnelEcho10MiB(t *testing.T) {
	tn := newTunnel(t, http.HandlerFunc(echoHandler), AgentConfig{IdleSize: 1, MaxSize: 2})
	const size = 10 << 20
	for _, cl := range []int64{size, -1} {
		body := &patternReader{rng: rand.NewChaCha8([32]byte{7}), n: size}
		req, _ := http.NewRequest(http.MethodPost, "http://api.internal/echo", io.NopCloser(body))
		req.ContentLength = cl
		if cl >= 0 {
			req.Header.Set("Content-Length", "10485760")
		}
		resp := tn.do(t, req)
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		resp.Body.Close()
		if err != nil || n != size {
			t.Fatalf("cl=%d: echoed %d bytes, err %v", cl, n, err)
		}
		if [32]byte(h.Sum(nil)) != patternHash(size) {
			t.Fatalf("cl=%d: echoed bytes differ", cl)
		}
		if resp.ContentLength != cl {
			t.Errorf("resp.ContentLength = %d, want %d", resp.ContentLength, cl)
		}
	}
	eventually(t, "the connection to be idle again", func() bool { return tn.pool.Idle() >= 1 })
}

func TestTunnelSequentialReuse(t *testing.T) {
	tn := newTunnel(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsLegacy(r.Context()) {
			t.Error("request context not marked legacy")
		}
		io.WriteString(w, r.Method+" "+r.Header.Get("X-Proxy-Destination"))
	}), AgentConfig{IdleSize: 1, MaxSize: 1})
	for i := range 20 {
		req, _ := http.NewRequest(http.MethodGet, "http://api.internal/x?i=1", nil)
		resp := tn.do(t, req)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(b, []byte("GET http://api.internal/x?i=1")) {
			t.Fatalf("exchange %d: %q, %v", i, b, err)
		}
		eventually(t, "idle", func() bool { return tn.pool.Idle() == 1 })
	}
	if n := tn.pool.Len(); n != 1 {
		t.Errorf("pool has %d connections, want 1 (reused)", n)
	}
}
