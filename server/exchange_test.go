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
	// A request with a body is not sent twice: it fails if it meets a
	// stream the agent closed, and succeeds on a fresh one.
	for i := range 4 {
		body, err := get(t, s, http.MethodPost, strings.NewReader("data"))
		if err != nil && !errors.Is(err, ErrAgentLost) {
			t.Fatalf("POST %d: %v, want success or ErrAgentLost", i, err)
		}
		if err == nil && body != "ok" {
			t.Fatalf("POST %d: body %q", i, body)
		}
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
	if _, err := s.RoundTrip(req); err == nil {
		t.Fatal("RoundTrip succeeded with a broken request body")
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
