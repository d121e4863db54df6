package v1

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

func newReq(t *testing.T, ctx context.Context, method, body string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://api.internal/x", r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// answer makes the fake agent read one request and send head and body.
// It runs on its own goroutine.
func answer(t *testing.T, agent *websocket.Conn, head, body string) {
	t.Helper()
	readMsg(t, agent)
	readMsg(t, agent)
	if err := agent.WriteMessage(websocket.TextMessage, []byte(head)); err != nil {
		t.Error(err)
	}
	if err := agent.WriteMessage(websocket.BinaryMessage, []byte(body)); err != nil {
		t.Error(err)
	}
}

func TestServerRoundTripAndReuse(t *testing.T) {
	p, _ := newTestPool(t, 1, 0, ServerConnConfig{})
	agent := addAgent(t, p)
	for i := range 3 {
		sc := acquire(t, p)
		answered := make(chan struct{})
		go func() {
			defer close(answered)
			answer(t, agent, `{"StatusCode":201,"Header":{"Content-Length":["2"],"X-A":["1","2"]},"ContentLength":2}`, "ok")
		}()
		resp, err := sc.RoundTrip(newReq(t, context.Background(), "GET", ""))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil || string(b) != "ok" || resp.StatusCode != 201 || resp.ContentLength != 2 ||
			len(resp.Header["X-A"]) != 2 || resp.Status != "201 Created" {
			t.Fatalf("exchange %d: %q %v %+v", i, b, err, resp)
		}
		resp.Body.Close()
		sc.Release()
		<-answered
		eventually(t, "idle again", func() bool { return p.Idle() == 1 })
	}
}

// TestServerUnsolicitedMessage replays server-unsolicited-message.jsonl.
func TestServerUnsolicitedMessage(t *testing.T) {
	p, _ := newTestPool(t, 1, 0, ServerConnConfig{})
	agent := addAgent(t, p)
	e := loadRecording(t, "server-unsolicited-message")[0]
	agent.WriteMessage(websocket.TextMessage, e.payload(t))
	<-p.Done() // the only connection was closed
	if p.Len() != 0 {
		t.Fatalf("Len %d", p.Len())
	}
	if err := expectClosed(t, agent); !websocket.IsCloseError(err, websocket.CloseProtocolError) {
		t.Errorf("agent saw %v, want a protocol error close frame", err)
	}
}

// badExchange runs one exchange where the fake agent sends frames, and
// returns the RoundTrip error.
func badExchange(t *testing.T, cfg ServerConnConfig, frames func(agent *websocket.Conn)) error {
	t.Helper()
	p, _ := newTestPool(t, 1, 0, cfg)
	agent := addAgent(t, p)
	sc := acquire(t, p)
	go func() {
		readMsg(t, agent)
		readMsg(t, agent)
		frames(agent)
	}()
	resp, err := sc.RoundTrip(newReq(t, context.Background(), "GET", ""))
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	sc.Release()
	<-p.Done()
	return err
}

// TestServerBadJSONHead replays server-bad-json.jsonl: the legacy server
// answered 526; we return ErrConnBroken (the lead maps it to 502) and close.
func TestServerBadJSONHead(t *testing.T) {
	head := pick(loadRecording(t, "server-bad-json"), "agent->server", "ws-text")[0]
	err := badExchange(t, ServerConnConfig{}, func(a *websocket.Conn) {
		a.WriteMessage(websocket.TextMessage, head.payload(t))
	})
	var he *HeadError
	if !errors.Is(err, ErrConnBroken) || !errors.As(err, &he) {
		t.Fatalf("err = %v, want ErrConnBroken with a HeadError", err)
	}
}

func TestServerHeadTooLarge(t *testing.T) {
	err := badExchange(t, ServerConnConfig{MaxHeadBytes: 64}, func(a *websocket.Conn) {
		a.WriteMessage(websocket.TextMessage, []byte(`{"StatusCode":200,"Header":{"A":["`+strings.Repeat("x", 100)+`"]}}`))
	})
	if !errors.Is(err, ErrConnBroken) || !errors.Is(err, ErrHeadTooLarge) {
		t.Fatalf("err = %v, want ErrConnBroken and ErrHeadTooLarge", err)
	}
}

// TestServerSwappedOpcodes replays server-swapped-opcodes.jsonl, which the
// legacy server accepted; we reject a binary head and a text body.
func TestServerSwappedOpcodes(t *testing.T) {
	rec := pick(loadRecording(t, "server-swapped-opcodes"), "agent->server", "")
	err := badExchange(t, ServerConnConfig{}, func(a *websocket.Conn) {
		a.WriteMessage(websocket.BinaryMessage, rec[0].payload(t))
		a.WriteMessage(websocket.TextMessage, rec[1].payload(t))
	})
	if !errors.Is(err, ErrConnBroken) || !strings.Contains(err.Error(), "not a text message") {
		t.Fatalf("binary head: err = %v", err)
	}
	err = badExchange(t, ServerConnConfig{}, func(a *websocket.Conn) {
		a.WriteMessage(websocket.TextMessage, rec[0].payload(t))
		a.WriteMessage(websocket.TextMessage, rec[1].payload(t))
	})
	if !errors.Is(err, ErrConnBroken) || !strings.Contains(err.Error(), "not a binary message") {
		t.Fatalf("text body: err = %v", err)
	}
}

// TestServerBrokenBody replays server-broken-body*.jsonl frame by frame:
// 10 bytes in a non-final frame, then the TCP connection closes. The
// legacy server appended its error text to a 200 body; our body reader
// returns an error, never a clean EOF.
func TestServerBrokenBody(t *testing.T) {
	for _, name := range []string{"server-broken-body", "server-broken-body-no-cl"} {
		t.Run(name, func(t *testing.T) {
			rec := pick(loadRecording(t, name), "agent->server", "")
			p, _ := newTestPool(t, 1, 0, ServerConnConfig{})
			agent := addAgent(t, p)
			sc := acquire(t, p)
			go func() {
				readMsg(t, agent)
				readMsg(t, agent)
				agent.WriteMessage(websocket.TextMessage, rec[0].payload(t))
				agent.NetConn().Write(rawFrame(rec[1].Frames[0].Fin, websocket.BinaryMessage, rec[1].payload(t)))
				agent.NetConn().Close()
			}()
			resp, err := sc.RoundTrip(newReq(t, context.Background(), "GET", ""))
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			if string(b) != "0123456789" || !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrConnBroken) {
				t.Fatalf("read %q, err %v; want the 10 bytes and ErrUnexpectedEOF+ErrConnBroken", b, err)
			}
			resp.Body.Close()
			sc.Release()
			<-p.Done()
		})
	}
}

func TestServerBodyLengthMismatch(t *testing.T) {
	tests := []struct {
		name, head, body string
		want             error
	}{
		{"longer than Content-Length", `{"StatusCode":200,"Header":{"Content-Length":["5"]},"ContentLength":5}`, "0123456789", errTooLong},
		{"shorter than Content-Length", `{"StatusCode":200,"Header":{"Content-Length":["10"]},"ContentLength":10}`, "01234", io.ErrUnexpectedEOF},
		{"shorter than the ContentLength field", `{"StatusCode":527,"Header":{},"ContentLength":10}`, "01234", io.ErrUnexpectedEOF},
		{"body on a 204", `{"StatusCode":204,"Header":{},"ContentLength":-1}`, "x", errTooLong},
		{"invalid Content-Length", `{"StatusCode":200,"Header":{"Content-Length":["x"]},"ContentLength":-1}`, "", ErrConnBroken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := badExchange(t, ServerConnConfig{}, func(a *websocket.Conn) {
				a.WriteMessage(websocket.TextMessage, []byte(tt.head))
				a.WriteMessage(websocket.BinaryMessage, []byte(tt.body))
			})
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrConnBroken) {
				t.Fatalf("err = %v, want %v and ErrConnBroken", err, tt.want)
			}
		})
	}
}

func TestServerNoBodyResponses(t *testing.T) {
	p, _ := newTestPool(t, 1, 0, ServerConnConfig{})
	agent := addAgent(t, p)
	sc := acquire(t, p)
	go answer(t, agent, `{"StatusCode":200,"Header":{"Content-Length":["1234"]},"ContentLength":1234}`, "")
	resp, err := sc.RoundTrip(newReq(t, context.Background(), "HEAD", ""))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(resp.Body); err != nil || len(b) != 0 || resp.ContentLength != 1234 {
		t.Fatalf("HEAD: %q, %v, ContentLength %d", b, err, resp.ContentLength)
	}
	resp.Body.Close()
	sc.Release()
	eventually(t, "idle again", func() bool { return p.Idle() == 1 })
}

func TestServerReleaseBeforeEOFCloses(t *testing.T) {
	p, _ := newTestPool(t, 1, 0, ServerConnConfig{})
	agent := addAgent(t, p)
	sc := acquire(t, p)
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		answer(t, agent, `{"StatusCode":200,"Header":{},"ContentLength":-1}`, "unread body")
	}()
	resp, err := sc.RoundTrip(newReq(t, context.Background(), "GET", ""))
	if err != nil {
		t.Fatal(err)
	}
	<-answered // the agent wrote its whole answer; closing now cuts nothing it still sends
	resp.Body.Close()
	sc.Release()
	<-p.Done()
	if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
		t.Error("Read after Close succeeded")
	}
}

func TestServerCancelWaitingForHead(t *testing.T) {
	p, _ := newTestPool(t, 1, 0, ServerConnConfig{})
	agent := addAgent(t, p)
	sc := acquire(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		readMsg(t, agent)
		readMsg(t, agent)
		cancel() // the agent never answers
	}()
	_, err := sc.RoundTrip(newReq(t, ctx, "GET", ""))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	sc.Release()
	<-p.Done()
	expectClosed(t, agent)
}

func TestServerCancelReadingBody(t *testing.T) {
	p, _ := newTestPool(t, 1, 0, ServerConnConfig{})
	agent := addAgent(t, p)
	sc := acquire(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		readMsg(t, agent)
		readMsg(t, agent)
		agent.WriteMessage(websocket.TextMessage, []byte(`{"StatusCode":200,"Header":{},"ContentLength":-1}`))
		w, _ := agent.NextWriter(websocket.BinaryMessage)
		w.Write(make([]byte, 5000)) // one frame leaves, the message stays open
	}()
	resp, err := sc.RoundTrip(newReq(t, ctx, "GET", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want context.Canceled and ErrUnexpectedEOF", err)
	}
	resp.Body.Close()
	sc.Release()
	<-p.Done()
}

func TestServerRequestBodyShorterThanContentLength(t *testing.T) {
	p, _ := newTestPool(t, 1, 0, ServerConnConfig{})
	agent := addAgent(t, p)
	sc := acquire(t, p)
	req := newReq(t, context.Background(), "POST", "abc")
	req.ContentLength = 10
	done := make(chan error, 1)
	go func() {
		readMsg(t, agent)
		_, _, err := agent.ReadMessage()
		done <- err
	}()
	_, err := sc.RoundTrip(req)
	if !errors.Is(err, ErrConnBroken) {
		t.Fatalf("err = %v", err)
	}
	if err := <-done; err == nil {
		t.Fatal("the agent got a complete body message")
	}
	sc.Release()
	<-p.Done()
}

func TestRequestHead(t *testing.T) {
	req := newReq(t, context.Background(), "POST", "body")
	req.ContentLength = 0 // with a body: unknown, as for net/http clients
	req.Header.Set("X-Proxy-Destination", "http://api.internal/x")
	req.Header.Set("User-Agent", "")
	req.Header.Set("X-Keep", "1")
	h, err := requestHead(req)
	if err != nil {
		t.Fatal(err)
	}
	if h.ContentLength != -1 || h.URL != "http://api.internal/x" || len(h.Header) != 1 || h.Header.Get("X-Keep") != "1" {
		t.Errorf("head %+v", h)
	}
	if req.Header.Get("X-Proxy-Destination") == "" {
		t.Error("requestHead modified the request")
	}
	h, _ = requestHead(newReq(t, context.Background(), "GET", ""))
	if h.ContentLength != 0 || h.Header == nil {
		t.Errorf("GET head %+v", h)
	}
}
