package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
)

// pipeSession is a server session whose agent end is a yamux server that
// hands each stream to serve.
func pipeSession(t *testing.T, serve func(net.Conn)) (*session, *atomic.Int64) {
	t.Helper()
	a, b := net.Pipe()
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	client, err := yamux.Client(a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	agent, err := yamux.Server(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var streams atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := agent.Accept()
			if err != nil {
				return
			}
			streams.Add(1)
			go serve(c)
		}
	}()
	t.Cleanup(func() {
		client.Close()
		agent.Close()
		<-done
	})
	return &session{id: "test", max: 8, mux: client}, &streams
}

func tunnelRequest(t *testing.T, ctx context.Context, method string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+tunnelHost+"/x", body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// answerEach reads requests on c and answers each with reply; close ends
// the stream after the first answer.
func answerEach(reply string, closeAfterFirst bool) func(net.Conn) {
	return func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			if _, err := io.WriteString(c, reply); err != nil || closeAfterFirst {
				return
			}
		}
	}
}

func get(t *testing.T, s *session, method string, body io.Reader) (string, error) {
	t.Helper()
	resp, err := s.RoundTrip(tunnelRequest(t, context.Background(), method, body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestExchangeReusesStream(t *testing.T) {
	s, streams := pipeSession(t, answerEach("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false))
	for i := range 3 {
		body, err := get(t, s, http.MethodGet, nil)
		if err != nil || body != "ok" {
			t.Fatalf("request %d: body %q, err %v", i, body, err)
		}
	}
	if n := streams.Load(); n != 1 {
		t.Fatalf("3 sequential requests opened %d streams, want 1", n)
	}
}

func TestExchangeBodyAfterEOFAndClose(t *testing.T) {
	s, _ := pipeSession(t, answerEach("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false))
	resp, err := s.RoundTrip(tunnelRequest(t, context.Background(), http.MethodGet, nil))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "ok" {
		t.Fatalf("body %q, err %v", b, err)
	}
	if n, err := resp.Body.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("read after EOF: %d, %v; want 0, io.EOF", n, err)
	}
	// The stream is back in the idle list: the next request uses it while
	// the old body stays ended.
	if body, err := get(t, s, http.MethodGet, nil); err != nil || body != "ok" {
		t.Fatalf("next GET: body %q, err %v", body, err)
	}
	if n, err := resp.Body.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("old body after reuse: %d, %v; want 0, io.EOF", n, err)
	}
	resp.Body.Close()

	resp, err = s.RoundTrip(tunnelRequest(t, context.Background(), http.MethodGet, nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := resp.Body.Read(make([]byte, 8)); !errors.Is(err, errBodyClosed) {
		t.Fatalf("read after Close: %v, want errBodyClosed", err)
	}
}

func TestExchangeCloseDelimitedBodyIsNotReused(t *testing.T) {
	s, streams := pipeSession(t, answerEach("HTTP/1.1 200 OK\r\n\r\nuntil-eof", true))
	for i := range 2 {
		body, err := get(t, s, http.MethodGet, nil)
		if err != nil || body != "until-eof" {
			t.Fatalf("request %d: body %q, err %v", i, body, err)
		}
	}
	if n := streams.Load(); n != 2 {
		t.Fatalf("streams = %d, want 2 (a body ended by EOF ends its stream)", n)
	}
}

func TestExchangeRetriesIdleStreamClosedByAgent(t *testing.T) {
	// The agent answers once per stream, then ends the stream although
	// its answer allowed keep-alive.
	s, streams := pipeSession(t, answerEach("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true))
	for i := range 3 {
		body, err := get(t, s, http.MethodGet, nil)
		if err != nil || body != "ok" {
			t.Fatalf("GET %d: body %q, err %v", i, body, err)
		}
	}
	if n := streams.Load(); n < 3 {
		t.Fatalf("streams = %d, want at least 3", n)
	}
}

func TestExchangeSkipsIdleStreamClosedByAgent(t *testing.T) {
	s, streams := pipeSession(t, answerEach("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true))
	if body, err := get(t, s, http.MethodGet, nil); err != nil || body != "ok" {
		t.Fatalf("GET: body %q, err %v", body, err)
	}
	// Wait until the agent's close of the idle stream has arrived.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		c := s.idle[len(s.idle)-1]
		s.mu.Unlock()
		if !c.usable() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the idle stream still looks usable 10 s after the agent closed it")
		}
		time.Sleep(time.Millisecond)
	}
	// A POST must not be sent on it (it could not be sent again): it goes
	// to a fresh stream and succeeds.
	if body, err := get(t, s, http.MethodPost, strings.NewReader("data")); err != nil || body != "ok" {
		t.Fatalf("POST: body %q, err %v", body, err)
	}
	if n := streams.Load(); n != 2 {
		t.Fatalf("streams = %d, want 2", n)
	}
}

func TestExchangeIdleStreamStaysUsable(t *testing.T) {
	s, _ := pipeSession(t, answerEach("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false))
	if _, err := get(t, s, http.MethodGet, nil); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	c := s.idle[len(s.idle)-1]
	s.mu.Unlock()
	for i := range 3 {
		if !c.usable() {
			t.Fatalf("check %d: a healthy idle stream looks unusable", i)
		}
	}
	if body, err := get(t, s, http.MethodGet, nil); err != nil || body != "ok" {
		t.Fatalf("GET after the checks: body %q, err %v", body, err)
	}
}

func TestExchangeOversizeHeadFails(t *testing.T) {
	huge := "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 2*maxResponseHead) + "\r\n\r\n"
	s, _ := pipeSession(t, answerEach(huge, true))
	_, err := get(t, s, http.MethodGet, nil)
	if !errors.Is(err, ErrAgentLost) || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("err = %v, want ErrAgentLost naming the oversize head", err)
	}
}

func TestExchangeTooManyInterimResponses(t *testing.T) {
	reply := strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", max1xx+2) +
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	s, _ := pipeSession(t, answerEach(reply, true))
	_, err := get(t, s, http.MethodGet, nil)
	if !errors.Is(err, ErrAgentLost) || !strings.Contains(err.Error(), "1xx") {
		t.Fatalf("err = %v, want ErrAgentLost naming the 1xx responses", err)
	}
}

func TestExchangeMalformedResponseFails(t *testing.T) {
	s, _ := pipeSession(t, answerEach("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", true))
	if _, err := get(t, s, http.MethodGet, nil); !errors.Is(err, ErrAgentLost) {
		t.Fatalf("err = %v, want ErrAgentLost", err)
	}
}

func TestExchangeTruncatedBodyIsAnError(t *testing.T) {
	s, _ := pipeSession(t, answerEach("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", true))
	body, err := get(t, s, http.MethodGet, nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("body %q, err %v: want io.ErrUnexpectedEOF", body, err)
	}
}

func TestExchangeCancelWhileWaiting(t *testing.T) {
	got := make(chan struct{})
	s, _ := pipeSession(t, func(c net.Conn) {
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			close(got)
		}
		_, _ = io.Copy(io.Discard, c) // never answers; returns when the stream ends
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := s.RoundTrip(tunnelRequest(t, ctx, http.MethodGet, nil))
		errc <- err
	}()
	<-got
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RoundTrip still blocked 10 s after cancel")
	}
}

func TestExchangeUploadCutShortEndsStream(t *testing.T) {
	// The application's body breaks after 4 bytes of 10: the agent must
	// see the stream end before the declared length.
	seen := make(chan error, 1)
	s, _ := pipeSession(t, func(c net.Conn) {
		defer c.Close()
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			seen <- err
			return
		}
		_, err = io.Copy(io.Discard, req.Body)
		seen <- err
	})
	req := tunnelRequest(t, context.Background(), http.MethodPost, io.MultiReader(strings.NewReader("1234"), errReader{}))
	req.ContentLength = 10
	if _, err := s.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "application went away") {
		t.Fatalf("RoundTrip: %v, want the request body's error", err)
	}
	select {
	case err := <-seen:
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("agent read the body with %v, want io.ErrUnexpectedEOF", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the agent never saw the body end")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("application went away") }

func TestExpectsContinue(t *testing.T) {
	for v, want := range map[string]bool{"100-continue": true, " 100-Continue ": true, "100-CONTINUE": true, "": false, "100-continue-later": false} {
		req := tunnelRequest(t, context.Background(), http.MethodPost, nil)
		req.Header["Expect"] = []string{v}
		if got := expectsContinue(req); got != want {
			t.Errorf("Expect %q: %v, want %v", v, got, want)
		}
	}
}
