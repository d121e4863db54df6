package v1

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// event is one line of a recording (see testdata/README.md).
type event struct {
	Dir     string      `json:"dir"`
	Kind    string      `json:"kind"`
	Text    *string     `json:"text"`
	B64     string      `json:"b64"`
	Frames  []frameInfo `json:"frames"`
	Method  string      `json:"method"`
	Path    string      `json:"path"`
	Status  int         `json:"status"`
	Headers [][2]string `json:"headers"`
	Body    *string     `json:"body"`
	BodyB64 string      `json:"body_b64"`
}

type frameInfo struct {
	Fin    bool   `json:"fin"`
	Opcode string `json:"opcode"`
	Len    int    `json:"len"`
}

// payload returns the message payload (ws-*) or HTTP body (http-*).
func (e event) payload(t testing.TB) []byte {
	t.Helper()
	switch {
	case e.Text != nil:
		return []byte(*e.Text)
	case e.Body != nil:
		return []byte(*e.Body)
	}
	s := e.B64
	if s == "" {
		s = e.BodyB64
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("bad base64 in recording: %v", err)
	}
	return b
}

func loadRecording(t testing.TB, name string) []event {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func recordingNames(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recordings: %v", err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(filepath.Base(f), ".jsonl")
	}
	return names
}

// pick returns the events of rec with the given direction and kind (any
// kind when kind is "").
func pick(rec []event, dir, kind string) []event {
	var out []event
	for _, e := range rec {
		if e.Dir == dir && (kind == "" || e.Kind == kind) {
			out = append(out, e)
		}
	}
	return out
}

const fixedDate = "Sat, 01 Jan 2000 00:00:00 GMT"

// fill replaces the placeholders of a recording with concrete values.
func fill(s string, ports map[string]string) string {
	s = strings.ReplaceAll(s, "<DATE>", fixedDate)
	for k, v := range ports {
		s = strings.ReplaceAll(s, k, v)
	}
	for _, k := range []string{"<SERVER_PORT>", "<API_PORT>", "<CLOSED_PORT>"} {
		s = strings.ReplaceAll(s, k, "12345")
	}
	return s
}

var datePattern = `[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT`

// matches reports whether got equals want, where a <DATE> placeholder in
// want matches any RFC 1123 date.
func matches(want string, got []byte) bool {
	if !strings.Contains(want, "<DATE>") {
		return want == string(got)
	}
	parts := strings.Split(want, "<DATE>")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, datePattern) + "$").Match(got)
}

// testLogger logs through t.Logf until the test ends.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Logf("%s", strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// wsServer is an httptest server that upgrades every request and hands the
// connections to the test on conns.
type wsServer struct {
	*httptest.Server
	conns    chan *websocket.Conn
	done     chan struct{}
	handlers sync.WaitGroup // handlers run on after the hijack
}

func newWSServer(t testing.TB) *wsServer {
	t.Helper()
	s := &wsServer{conns: make(chan *websocket.Conn, 16), done: make(chan struct{})}
	up := websocket.Upgrader{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.handlers.Add(1)
		defer s.handlers.Done()
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		select {
		case s.conns <- ws:
		case <-s.done:
			ws.Close()
		}
	}))
	t.Cleanup(func() {
		close(s.done)
		s.Close()
		s.handlers.Wait()
		for {
			select {
			case ws := <-s.conns:
				ws.Close()
			default:
				return
			}
		}
	})
	return s
}

func (s *wsServer) url() string { return "ws" + strings.TrimPrefix(s.URL, "http") }

// dial opens a client WebSocket to s.
func (s *wsServer) dial(ctx context.Context) (*websocket.Conn, error) {
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, s.url(), http.Header{"X-SECRET-KEY": {"s3cret"}})
	return ws, err
}

// accept waits for the next upgraded connection; the caller owns it.
func (s *wsServer) accept(t testing.TB) *websocket.Conn {
	t.Helper()
	select {
	case ws := <-s.conns:
		return ws
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
		return nil
	}
}

// wsPair returns the two ends of a loopback WebSocket: server and client.
// The client end is closed at the end of the test; the caller owns the
// server end.
func wsPair(t testing.TB) (server, client *websocket.Conn) {
	t.Helper()
	s := newWSServer(t)
	client, err := s.dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return s.accept(t), client
}

// readMsg reads one message with a timeout. It may run on any goroutine:
// on failure it reports an error and returns opcode -1.
func readMsg(t testing.TB, ws *websocket.Conn) (int, []byte) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer ws.SetReadDeadline(time.Time{})
	typ, b, err := ws.ReadMessage()
	if err != nil {
		t.Errorf("read message: %v", err)
		return -1, nil
	}
	return typ, b
}

// expectClosed waits until the peer closes ws (a close frame or EOF) and
// returns the read error.
func expectClosed(t testing.TB, ws *websocket.Conn) error {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("connection not closed: %v", err)
		}
		return err
	}
}

// eventually polls cond until it holds or 5 s passed.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawFrame encodes one client (masked) WebSocket frame, for tests that
// need frames gorilla would not produce (a non-final frame, then a cut).
func rawFrame(fin bool, opcode byte, payload []byte) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	var hdr []byte
	switch n := len(payload); {
	case n < 126:
		hdr = []byte{b0, 0x80 | byte(n)}
	case n < 1<<16:
		hdr = []byte{b0, 0x80 | 126, byte(n >> 8), byte(n)}
	default:
		panic("frame too large for the test helper")
	}
	key := [4]byte{1, 2, 3, 4}
	out := append(hdr, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}

// newTestPool returns a pool closed at the end of the test, and a channel
// that receives a value on every notify.
func newTestPool(t testing.TB, idleSize int, idleTimeout time.Duration, cfg ServerConnConfig) (*ServerPool, chan struct{}) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	notified := make(chan struct{}, 100)
	p := NewServerPool("agent-1", idleSize, idleTimeout, cfg, func() {
		select {
		case notified <- struct{}{}:
		default:
		}
	})
	t.Cleanup(func() { p.Close() })
	return p, notified
}

// addAgent connects a fake agent to p and returns its end.
func addAgent(t testing.TB, p *ServerPool) *websocket.Conn {
	t.Helper()
	server, client := wsPair(t)
	p.Add(server)
	return client
}

// poolTransport is an http.RoundTripper over a ServerPool, as a registry
// would build one: wait for an idle connection, run the exchange, release
// the connection when the response body is closed.
type poolTransport struct {
	pool     *ServerPool
	notified chan struct{}
}

func (pt poolTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	sc, err := pt.acquire(req.Context())
	if err != nil {
		return nil, err
	}
	resp, err := sc.RoundTrip(req)
	if err != nil {
		sc.Release()
		return nil, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: sc.Release}
	return resp, nil
}

func (pt poolTransport) acquire(ctx context.Context) (*ServerConn, error) {
	for {
		if sc, ok := pt.pool.TryAcquire(); ok {
			return sc, nil
		}
		select {
		case <-pt.notified:
		case <-pt.pool.Done():
			return nil, ErrPoolClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }
