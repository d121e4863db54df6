package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsp-tunnel/wsp/internal/config"
	"github.com/wsp-tunnel/wsp/internal/demoapi"
	"github.com/wsp-tunnel/wsp/internal/rules"
	"github.com/wsp-tunnel/wsp/server"
)

func TestGet(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		tn := startTunnel(t, options{protocol: proto})
		resp := do(t, tn.request("GET", "/hello", nil))
		if got := readAll(t, resp); resp.StatusCode != 200 || got != "hello world\n" {
			t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, got, "hello world\n")
		}
	})
}

func TestStatusPassthrough(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		tn := startTunnel(t, options{protocol: proto})
		for _, code := range []int{201, 204, 302, 404, 418, 500, 503} {
			resp := do(t, tn.request("GET", fmt.Sprintf("/status/%d", code), nil))
			readAll(t, resp)
			if resp.StatusCode != code {
				t.Errorf("status %d came back as %d", code, resp.StatusCode)
			}
			if resp.Header.Get("X-Wsp-Error") != "" {
				t.Errorf("status %d: the API's answer was marked as a wsp error", code)
			}
		}
	})
}

func TestPostEcho10MiB(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		tn := startTunnel(t, options{protocol: proto})
		body := make([]byte, 10<<20)
		rand.Read(body)
		resp := do(t, tn.request("POST", "/echo", bytes.NewReader(body)))
		got := readAll(t, resp)
		if resp.StatusCode != 200 || got != string(body) {
			t.Fatalf("echo: status %d, %d bytes back, equal=%v", resp.StatusCode, len(got), got == string(body))
		}
	})
}

func TestChunkedUpload(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		tn := startTunnel(t, options{protocol: proto})
		payload := bytes.Repeat([]byte("0123456789abcdef"), 70000)
		// A reader with no length makes the client send the body chunked.
		resp := do(t, tn.request("POST", "/sha256", io.MultiReader(bytes.NewReader(payload))))
		sum := sha256.Sum256(payload)
		want := fmt.Sprintf("%s %d\n", hex.EncodeToString(sum[:]), len(payload))
		if got := readAll(t, resp); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

func TestDownload100MiB(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		tn := startTunnel(t, options{protocol: proto})
		const n = 100 << 20
		resp := do(t, tn.request("GET", fmt.Sprintf("/bytes?n=%d", n), nil))
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.ContentLength != n {
			t.Fatalf("status %d, length %d", resp.StatusCode, resp.ContentLength)
		}
		got, err := checkPattern(resp.Body)
		if err != nil || got != n {
			t.Fatalf("read %d of %d bytes: %v", got, n, err)
		}
	})
}

// checkPattern reads r and checks it is demoapi's byte pattern.
func checkPattern(r io.Reader) (int64, error) {
	buf := make([]byte, 64<<10)
	var off int64
	for {
		k, err := r.Read(buf)
		for i := range k {
			if buf[i] != demoapi.Pattern(off+int64(i)) {
				return off + int64(i), fmt.Errorf("byte %d differs", off+int64(i))
			}
		}
		off += int64(k)
		if err == io.EOF {
			return off, nil
		}
		if err != nil {
			return off, err
		}
	}
}

func TestErrorsWithoutAgent(t *testing.T) {
	tn := startTunnel(t, options{server: func(c *config.Server) { c.Timeout = 200 * time.Millisecond }})
	tn.stop()
	deadline := time.Now().Add(5 * time.Second)
	for len(tn.core.Agents()) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	resp := do(t, tn.request("GET", "/hello", nil))
	body := readAll(t, resp)
	if resp.StatusCode != 503 || resp.Header.Get("X-Wsp-Error") != "no-agent" || !strings.Contains(body, "no agent connected") {
		t.Fatalf("got %d %q (%s), want 503 no agent connected", resp.StatusCode, body, resp.Header.Get("X-Wsp-Error"))
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

func TestBadDestination(t *testing.T) {
	tn := startTunnel(t, options{})
	for _, dest := range []string{"", "://bad", "ftp://x/y", "http:///nohost"} {
		req := tn.request("GET", "/hello", nil)
		req.Header.Set("X-PROXY-DESTINATION", dest)
		if dest == "" {
			req.Header.Del("X-PROXY-DESTINATION")
		}
		resp := do(t, req)
		body := readAll(t, resp)
		if resp.StatusCode != 400 {
			t.Errorf("destination %q: got %d %q, want 400", dest, resp.StatusCode, body)
		}
	}
}

func TestRules(t *testing.T) {
	deny := []rules.Rule{{URL: "/status/"}}
	allow := []rules.Rule{{Method: "^(GET|POST)$"}}
	cases := []struct {
		name   string
		server func(*config.Server)
		agent  func(*config.Agent)
	}{
		{"server", func(c *config.Server) { c.Blacklist, c.Whitelist = deny, allow }, nil},
		{"agent", nil, func(c *config.Agent) { c.Blacklist, c.Whitelist = deny, allow }},
	}
	for _, tc := range cases {
		forEachProtocol(t, func(t *testing.T, proto string) {
			t.Run(tc.name, func(t *testing.T) {
				tn := startTunnel(t, options{protocol: proto, server: tc.server, agent: tc.agent})
				check := func(method, path string, want int, wantBody string) {
					t.Helper()
					resp := do(t, tn.request(method, path, strings.NewReader("some body")))
					body := readAll(t, resp)
					if resp.StatusCode != want || !strings.Contains(body, wantBody) {
						t.Errorf("%s %s: got %d %q, want %d %q", method, path, resp.StatusCode, body, want, wantBody)
					}
				}
				denied := 403
				if tc.name == "agent" && proto == "v1" {
					denied = 527 // a v1 agent answers every failure with 527
				}
				check("GET", "/hello", 200, "hello world")
				check("GET", "/status/204", denied, "Destination is forbidden")
				check("PUT", "/echo", denied, "Destination is not allowed")
				check("POST", "/echo", 200, "some body")
			})
		})
	}
}

func TestWrongSecretRefused(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		tn := startTunnel(t, options{protocol: proto,
			server: func(c *config.Server) { c.SecretKey = "right"; c.Timeout = 300 * time.Millisecond },
			agent:  func(c *config.Agent) { c.SecretKey = "right" },
		})
		bad := tn.acfg
		bad.ID = "intruder"
		bad.SecretKey = "wrong"
		stop := startAgent(t, bad)
		defer stop()
		time.Sleep(300 * time.Millisecond)
		for _, a := range tn.core.Agents() {
			if a.ID == "intruder" {
				t.Fatal("an agent with a wrong secret was registered")
			}
		}
		resp := do(t, tn.request("GET", "/hello", nil))
		if got := readAll(t, resp); got != "hello world\n" {
			t.Fatalf("the right agent stopped serving: %q", got)
		}
	})
}

func TestConcurrent1000(t *testing.T) {
	tn := startTunnel(t, options{protocol: "v2"})
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Do(tn.request("GET", fmt.Sprintf("/sleep?d=1s&i=%d", i), nil))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 || string(b) != "slept 1s\n" {
				errs <- fmt.Errorf("request %d: %d %q %v", i, resp.StatusCode, b, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed < 5 {
			t.Error(err)
		}
		failed++
	}
	if failed > 0 {
		t.Fatalf("%d of %d requests failed", failed, n)
	}
	t.Logf("1000 concurrent 1 s requests through one agent: %v wall time", time.Since(start).Round(time.Millisecond))
}

// TestAgentFallsBackToV1Server runs our agent (protocol auto) against our
// server acting as a legacy v1 server: the agent offers wsp.v2, gets no
// subprotocol, and must serve over v1.
func TestAgentFallsBackToV1Server(t *testing.T) {
	tn := startTunnel(t, options{
		protocol: "auto",
		server:   func(c *config.Server) { c.Protocol = "v1" },
	})
	agents := tn.core.Agents()
	if len(agents) != 1 || agents[0].Protocol != "v1" {
		t.Fatalf("agents = %+v, want one v1 agent", agents)
	}
	resp := do(t, tn.request("GET", "/hello", nil))
	if got := readAll(t, resp); got != "hello world\n" {
		t.Fatalf("GET: %q", got)
	}
	body := bytes.Repeat([]byte{0, 1, 2, 0xff}, 1<<18)
	resp = do(t, tn.request("POST", "/echo", bytes.NewReader(body)))
	if got := readAll(t, resp); got != string(body) {
		t.Fatalf("echo: %d bytes back of %d", len(got), len(body))
	}
}

// TestV2AgentRequiresV2 checks that protocol v2 refuses a v1-only server
// instead of falling back.
func TestV2AgentRequiresV2(t *testing.T) {
	scfg := config.DefaultServer()
	scfg.Protocol = "v1"
	core, err := server.New(scfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	pub := httptest.NewServer(core)
	defer func() { pub.Close(); core.Close() }()
	acfg := config.DefaultAgent()
	acfg.Protocol = "v2"
	acfg.Targets = []string{"ws" + strings.TrimPrefix(pub.URL, "http") + "/register"}
	stop := startAgent(t, acfg)
	time.Sleep(300 * time.Millisecond)
	stop()
	if n := len(core.Agents()); n != 0 {
		t.Fatalf("%d agents registered; a v2-only agent must not register with a v1 server", n)
	}
}
