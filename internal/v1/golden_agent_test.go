package v1

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// testAPI answers like the API of the agent recordings.
func testAPI(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello world\n") })
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		// Read first: net/http may cut the request body once the answer flushes.
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	return api
}

// clientHandler does what the legacy agent did with a request: run it with
// an http.Client (redirects not followed: a legacy defect) and copy the
// answer, or answer a legacy 527.
func clientHandler(api *httptest.Server) http.Handler {
	client := &http.Client{
		Transport:     api.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := http.NewRequestWithContext(r.Context(), r.Method, r.Header.Get("X-Proxy-Destination"), r.Body)
		if err != nil {
			WriteLegacyError(w, StatusLegacyError, LegacyExecError(err))
			return
		}
		out.Header, out.ContentLength = r.Header.Clone(), r.ContentLength
		resp, err := client.Do(out)
		if err != nil {
			WriteLegacyError(w, StatusLegacyError, LegacyExecError(err))
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		if _, err := io.Copy(w, resp.Body); err != nil {
			panic(http.ErrAbortHandler)
		}
	})
}

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	return port
}

var contentLengthField = regexp.MustCompile(`"ContentLength":\d+`)

// TestGoldenAgent plays the legacy server's frames of each recording to our
// RunAgent and checks that the agent's messages equal the legacy agent's
// (dates and ports aside). As in the recordings the agent has IdleSize 1
// and MaxSize 2: the exchanges run on its first connection, and the bad
// head on the second one, opened when the first turned busy.
func TestGoldenAgent(t *testing.T) {
	api := testAPI(t)
	ports := map[string]string{
		"<API_PORT>":    api.URL[strings.LastIndexByte(api.URL, ':')+1:],
		"<CLOSED_PORT>": closedPort(t),
	}
	srv := newWSServer(t)
	startAgent(t, AgentConfig{ID: "agent-1", IdleSize: 1, MaxSize: 2, Dial: srv.dial, Handler: clientHandler(api)})

	first, greeting := acceptGreeting(t, srv)
	if want := pick(loadRecording(t, "agent-handshake"), "agent->server", "ws-text")[0]; greeting != *want.Text {
		t.Errorf("greeting %q, recorded %q", greeting, *want.Text)
	}
	for _, name := range []string{"agent-get-hello", "agent-post-binary", "agent-dest-down",
		"agent-chunked-body", "agent-status-404", "agent-large-body"} {
		t.Run(name, func(t *testing.T) { goldenExchange(t, first, loadRecording(t, name), ports) })
	}
	t.Run("agent-bad-json", func(t *testing.T) {
		second := acceptAgent(t, srv)
		goldenExchange(t, second, loadRecording(t, "agent-bad-json"), ports)
		err := expectClosed(t, second)
		if !websocket.IsCloseError(err, websocket.CloseProtocolError) {
			t.Errorf("after a bad head: %v, want a close frame (the legacy agent sent none)", err)
		}
	})
}

// startAgent runs RunAgent until the end of the test.
func startAgent(t *testing.T, cfg AgentConfig) context.CancelFunc {
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunAgent(ctx, cfg, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunAgent returned %v", err)
		}
	})
	return cancel
}

// acceptAgent accepts the agent's next connection and checks its greeting
// (agent-1_1 in the recordings).
func acceptAgent(t *testing.T, srv *wsServer) *websocket.Conn {
	ws, _ := acceptGreeting(t, srv)
	return ws
}

func acceptGreeting(t *testing.T, srv *wsServer) (*websocket.Conn, string) {
	ws := srv.accept(t)
	t.Cleanup(func() { ws.Close() })
	typ, g := readMsg(t, ws)
	if id, _, err := ParseGreeting(string(g)); typ != websocket.TextMessage || err != nil || id != "agent-1" {
		t.Fatalf("greeting: opcode %d %q, want text \"agent-1_<size>\"", typ, g)
	}
	return ws, string(g)
}

func goldenExchange(t *testing.T, ws *websocket.Conn, rec []event, ports map[string]string) {
	for _, e := range pick(rec, "server->agent", "") {
		if err := ws.WriteMessage(opcode(e), []byte(fill(string(e.payload(t)), ports))); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range expectedMessages(t, pick(rec, "agent->server", ""), ports) {
		typ, got := readMsg(t, ws)
		if typ != want.typ || !matches(want.payload, got) {
			t.Errorf("message: opcode %d, %d bytes\n%s\nwant opcode %d, %d bytes\n%s", typ, len(got), clip(string(got)), want.typ, len(want.payload), clip(want.payload))
		}
	}
}

type wantMsg struct {
	typ     int
	payload string // may hold <DATE>
}

// expectedMessages returns the recorded messages with the ports filled in.
// A head's ContentLength counts the real bytes of a body that held a port
// placeholder; it is recomputed in case our ports are not 5 digits long.
func expectedMessages(t *testing.T, events []event, ports map[string]string) []wantMsg {
	var out []wantMsg
	for i, e := range events {
		if e.Kind == "ws-close" {
			continue
		}
		p := string(e.payload(t))
		for k, v := range ports {
			p = strings.ReplaceAll(p, k, v)
		}
		if e.Kind == "ws-text" && i+1 < len(events) && events[i+1].Kind == "ws-binary" {
			body := events[i+1]
			if realLen := frameBytes(body); strings.Contains(string(body.payload(t)), "_PORT>") &&
				strings.Contains(p, `"ContentLength":`+strconv.Itoa(realLen)) {
				filled := fill(string(body.payload(t)), ports)
				p = contentLengthField.ReplaceAllString(p, `"ContentLength":`+strconv.Itoa(len(filled)))
			}
		}
		out = append(out, wantMsg{typ: opcode(e), payload: p})
	}
	return out
}

func frameBytes(e event) int {
	n := 0
	for _, f := range e.Frames {
		n += f.Len
	}
	return n
}

func opcode(e event) int {
	if e.Kind == "ws-binary" {
		return websocket.BinaryMessage
	}
	return websocket.TextMessage
}
