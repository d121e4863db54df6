package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsp-tunnel/wsp/internal/config"
	"github.com/wsp-tunnel/wsp/internal/rules"
)

// hangBackend answers /head-wait by waiting for the request to end, and
// /body-wait by sending part of a body first.
func hangBackend(w http.ResponseWriter, r *http.Request, rec *record) {
	if r.URL.Path == "/body-wait" {
		w.Write(make([]byte, 256<<10))
		w.(http.Flusher).Flush()
	}
	select {
	case <-r.Context().Done():
	case <-time.After(30 * time.Second):
	}
}

// TestConformanceHangupCancelsBackend: when the application hangs up, the
// backend's request context ends within 1 s, whether the application was
// still waiting for the answer's head or was reading its body.
func TestConformanceHangupCancelsBackend(t *testing.T) {
	const bound = time.Second
	forEachProtocol(t, func(t *testing.T, proto string) {
		rc := newRecorder(hangBackend)
		tn := startTunnel(t, options{protocol: proto, api: rc})
		for _, path := range []string{"/head-wait", "/body-wait"} {
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() {
				resp, err := client.Do(tn.request("GET", path, nil).WithContext(ctx))
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				errc <- err
			}()
			rec := rc.next(t, 5*time.Second)
			if path == "/body-wait" {
				time.Sleep(100 * time.Millisecond) // the application is reading the body
			}
			hungUp := time.Now()
			cancel()
			select {
			case <-rec.ended:
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: the backend's request was not cancelled within 5 s of the hang-up", path)
			}
			d := rec.EndedAt().Sub(hungUp)
			t.Logf("%s %s: backend cancelled %v after the application hung up", proto, path, d.Round(time.Millisecond))
			if d > bound {
				t.Errorf("%s: backend cancelled after %v, want within %v", path, d, bound)
			}
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Errorf("%s: application got %v, want its own cancellation", path, err)
			}
		}
	})
}

// TestConformanceBackendBreaksMidBody: a backend that dies in the middle
// of its body (with a Content-Length or chunked) gives the application a
// broken body, never a clean short 200.
func TestConformanceBackendBreaksMidBody(t *testing.T) {
	const sent, announced = 100 << 10, 1 << 20
	forEachProtocol(t, func(t *testing.T, proto string) {
		rc := newRecorder(func(w http.ResponseWriter, r *http.Request, rec *record) {
			if r.URL.Path == "/with-length" {
				w.Header().Set("Content-Length", fmt.Sprint(announced))
			}
			w.Write(make([]byte, sent))
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
			panic(http.ErrAbortHandler) // the connection to the agent is cut
		})
		tn := startTunnel(t, options{protocol: proto, api: rc})
		for _, path := range []string{"/with-length", "/chunked"} {
			resp := do(t, tn.request("GET", path, nil))
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Errorf("%s: status %d and a clean end after %d bytes: a silent truncation", path, resp.StatusCode, n)
				continue
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Logf("%s: broken body error %v", path, err)
			}
			if n > sent {
				t.Errorf("%s: read %d bytes, the backend sent %d", path, n, sent)
			}
		}
	})
}

// TestConformanceOversizeHeaders: a request head over the server's
// maxheaderbytes (default 1 MiB) is refused with 431 before any agent sees
// it; a large head under the limit passes intact.
func TestConformanceOversizeHeaders(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		rc := newRecorder(nil)
		tn := startTunnel(t, options{protocol: proto, api: rc})
		req := tn.request("GET", "/big", nil)
		req.Header.Set("X-Big", strings.Repeat("b", 2<<20))
		resp := do(t, req)
		readAll(t, resp)
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("2 MiB header: got %d, want 431", resp.StatusCode)
		}
		select {
		case rec := <-rc.arrived:
			t.Errorf("an oversize request reached the backend: %s", rec.RequestURI)
		case <-time.After(50 * time.Millisecond):
		}
		large := strings.Repeat("l", 256<<10)
		req = tn.request("GET", "/large", nil)
		req.Header.Set("X-Large", large)
		resp = do(t, req)
		readAll(t, resp)
		if resp.StatusCode != 200 || rc.next(t, time.Second).Header.Get("X-Large") != large {
			t.Errorf("256 KiB header: got %d or not intact at the backend", resp.StatusCode)
		}
	})
}

// statusCase is one failure and the answer the application must get.
type statusCase struct {
	name   string
	server func(*config.Server)
	agent  func(*config.Agent)
	prep   func(t *testing.T, tn *tunnel) // runs after the tunnel is up
	dest   func(tn *tunnel) string        // "" for no X-PROXY-DESTINATION
	status int                            // over v2
	code   string                         // X-Wsp-Error over v2
	v1     int                            // status over v1 (0: same as v2)
}

// TestConformanceFailureStatuses checks the documented mapping of every
// failure to a status and X-Wsp-Error code (server/errors.go statusOf for
// the server's own failures, agent/handler.go statusOf for the agent's).
// Over v1 the agent answers all of its failures with 527.
func TestConformanceFailureStatuses(t *testing.T) {
	closedPort := func() string {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		defer ln.Close()
		return ln.Addr().String()
	}()
	api := func(path string) func(*tunnel) string { return func(tn *tunnel) string { return tn.api.URL + path } }
	fast := func(c *config.Server) { c.Timeout = 300 * time.Millisecond }
	cases := []statusCase{
		{name: "missing destination", dest: func(*tunnel) string { return "" }, status: 400, code: "bad-destination"},
		{name: "bad destination", dest: func(*tunnel) string { return "ftp://x/" }, status: 400, code: "bad-destination"},
		{name: "server rule", server: func(c *config.Server) { c.Blacklist = []rules.Rule{{URL: "/deny"}} }, dest: api("/deny"), status: 403, code: "denied"},
		{name: "agent rule", agent: func(c *config.Agent) { c.Blacklist = []rules.Rule{{URL: "/deny"}} }, dest: api("/deny"), status: 403, code: "denied", v1: 527},
		{name: "api unreachable", dest: func(*tunnel) string { return "http://" + closedPort + "/" }, status: 502, code: "upstream-unreachable", v1: 527},
		{name: "api too slow", agent: func(c *config.Agent) { c.ResponseTimeout = 200 * time.Millisecond }, dest: api("/sleep?d=5s"), status: 504, code: "upstream-timeout", v1: 527},
		{name: "no agent", server: fast, prep: func(t *testing.T, tn *tunnel) { stopAgent(t, tn) }, dest: api("/hello"), status: 503, code: "no-agent"},
		{name: "agent busy", server: fast, agent: oneStream, prep: holdOneRequest, dest: api("/hello"), status: 503, code: "agent-busy"},
		{name: "agent lost", agent: func(c *config.Agent) { c.ShutdownTimeout = 0 }, prep: loseAgentSoon, dest: api("/sleep?d=5s"), status: 502, code: "agent-lost"},
		{name: "legacy status", server: func(c *config.Server) { c.LegacyStatus = true }, dest: func(*tunnel) string { return "ftp://x/" }, status: 526, code: "bad-destination"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachProtocol(t, func(t *testing.T, proto string) { checkStatus(t, proto, tc) })
		})
	}
}

func checkStatus(t *testing.T, proto string, tc statusCase) {
	api := newRecorder(func(w http.ResponseWriter, r *http.Request, rec *record) {
		if r.URL.Path == "/sleep" {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
		io.WriteString(w, "ok")
	})
	tn := startTunnel(t, options{protocol: proto, api: api, server: tc.server, agent: tc.agent})
	if tc.prep != nil {
		tc.prep(t, tn)
	}
	req := tn.request("GET", "/", nil)
	if d := tc.dest(tn); d != "" {
		req.Header.Set("X-PROXY-DESTINATION", d)
	} else {
		req.Header.Del("X-PROXY-DESTINATION")
	}
	resp := do(t, req)
	body := readAll(t, resp)
	status, code := tc.status, tc.code
	if proto == "v1" && tc.v1 != 0 {
		status, code = tc.v1, ""
	}
	if resp.StatusCode != status || resp.Header.Get("X-Wsp-Error") != code {
		t.Errorf("got %d %q (X-Wsp-Error %q), want %d (%q)", resp.StatusCode, body, resp.Header.Get("X-Wsp-Error"), status, code)
	}
	if (status == 503) != (resp.Header.Get("Retry-After") != "") {
		t.Errorf("status %d with Retry-After %q", status, resp.Header.Get("Retry-After"))
	}
}

// oneStream lets the agent carry one request at a time.
func oneStream(c *config.Agent) { c.MaxStreams, c.PoolIdleSize, c.PoolMaxSize = 1, 1, 1 }

// holdOneRequest occupies the agent's only stream or connection.
func holdOneRequest(t *testing.T, tn *tunnel) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req := tn.request("GET", "/sleep", nil).WithContext(ctx)
		if resp, err := client.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	waitInFlight(t, tn, 1)
}

// waitInFlight waits until the server counts n requests on the agent.
func waitInFlight(t *testing.T, tn *tunnel, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		busy := 0
		for _, a := range tn.core.Agents() {
			busy += a.Streams
		}
		if busy >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests in flight, want %d", busy, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stopAgent stops the tunnel's agent and waits until the server forgot it.
func stopAgent(t *testing.T, tn *tunnel) {
	t.Helper()
	tn.stop()
	deadline := time.Now().Add(5 * time.Second)
	for len(tn.core.Agents()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the server still lists %+v", tn.core.Agents())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// loseAgentSoon stops the agent (with no grace period) while the request
// under test waits for its answer's head.
func loseAgentSoon(t *testing.T, tn *tunnel) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			for _, a := range tn.core.Agents() {
				if a.Streams > 0 {
					tn.stop()
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { <-done })
}
