package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wsp-tunnel/wsp/agent"
	"github.com/wsp-tunnel/wsp/internal/config"
	"github.com/wsp-tunnel/wsp/internal/demoapi"
	"github.com/wsp-tunnel/wsp/server"
)

func TestMain(m *testing.M) {
	code := m.Run()
	client.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// protocols every tunnel test runs over.
var protocols = []string{"v2", "v1"}

// tunnel is a sample API, a server and an agent, in process, on loopback.
type tunnel struct {
	t    testing.TB
	api  *httptest.Server
	core *server.Server
	pub  *httptest.Server // the server's public listener
	acfg config.Agent
	stop func()
}

type options struct {
	protocol string // agent protocol: v2 or v1
	server   func(*config.Server)
	agent    func(*config.Agent)
	api      http.Handler
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("WSP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startTunnel(t testing.TB, o options) *tunnel {
	t.Helper()
	if o.api == nil {
		o.api = demoapi.Handler()
	}
	tn := &tunnel{t: t, api: httptest.NewServer(o.api)}
	t.Cleanup(tn.api.Close)

	scfg := config.DefaultServer()
	if o.server != nil {
		o.server(&scfg)
	}
	core, err := server.New(scfg, testLogger(t).With("role", "server"))
	if err != nil {
		t.Fatal(err)
	}
	tn.core = core
	tn.pub = httptest.NewServer(core)
	t.Cleanup(func() { tn.pub.Close(); core.Close() })

	acfg := config.DefaultAgent()
	acfg.Targets = []string{"ws" + strings.TrimPrefix(tn.pub.URL, "http") + "/register"}
	acfg.Protocol = o.protocol
	if acfg.Protocol == "" {
		acfg.Protocol = "v2"
	}
	if o.agent != nil {
		o.agent(&acfg)
	}
	tn.acfg = acfg
	tn.stop = startAgent(t, acfg)
	t.Cleanup(tn.stop)
	waitAgent(t, core, acfg.ID)
	return tn
}

// startAgent runs an agent until the returned func is called.
func startAgent(t testing.TB, cfg config.Agent) func() {
	t.Helper()
	a, err := agent.New(cfg, testLogger(t).With("role", "agent"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	stopped := false
	return func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
}

func waitAgent(t testing.TB, core *server.Server, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := core.WaitForAgent(ctx, id); err != nil {
		t.Fatalf("agent %s did not connect: %v", id, err)
	}
}

// request builds a request to the tunnel for the API path.
func (tn *tunnel) request(method, path string, body io.Reader) *http.Request {
	tn.t.Helper()
	req, err := http.NewRequest(method, tn.pub.URL+"/request", body)
	if err != nil {
		tn.t.Fatal(err)
	}
	req.Header.Set("X-PROXY-DESTINATION", tn.api.URL+path)
	return req
}

// do sends req with a client that has its own connections.
func do(t testing.TB, req *http.Request) *http.Response {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.Header.Get("X-PROXY-DESTINATION"), err)
	}
	return resp
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1100, DisableCompression: true}, Timeout: 2 * time.Minute}

// readAll reads and closes a response body.
func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}

func forEachProtocol(t *testing.T, f func(t *testing.T, proto string)) {
	for _, p := range protocols {
		t.Run(p, func(t *testing.T) { f(t, p) })
	}
}
