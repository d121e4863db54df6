package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests in this file run the real wsp_server and wsp_client binaries as
// separate processes, so that they can be killed.

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds the commands once per test run.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "wsp-e2e-bin")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir, "../cmd/wsp_server", "../cmd/wsp_client")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is a running wsp command.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	out  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startProc writes yaml to a config file and starts the named command.
func startProc(t *testing.T, name, yaml string) *proc {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: exec.Command(filepath.Join(binaries(t), name), "-config", path), done: make(chan struct{}), out: &syncBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.out.String())
		}
	})
	return p
}

func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func serverYAML(port int) string {
	return fmt.Sprintf("host: 127.0.0.1\nport: %d\ntimeout: 1000\nsecretkey: s3cret\nloglevel: debug\n", port)
}

func agentYAML(id string, port int, protocol string) string {
	return fmt.Sprintf("id: %s\ntargets: [ws://127.0.0.1:%d/register]\nsecretkey: s3cret\nprotocol: %s\npoolidlesize: 2\npoolmaxsize: 10\nbackoffmin: 100\nbackoffmax: 1000\nloglevel: debug\n", id, port, protocol)
}

// waitRequest retries GET dest through the server until it answers 200.
func waitRequest(t *testing.T, port int, dest string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/request", port), nil)
		req.Header.Set("X-PROXY-DESTINATION", dest)
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(start)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no successful request within %v", within)
	return 0
}

func TestProcessAgentKilledMidBody(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		release := make(chan struct{})
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10485760")
			w.Write(make([]byte, 1<<20))
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer api.Close()
		defer close(release)
		port := freePort(t)
		startProc(t, "wsp_server", serverYAML(port))
		agent := startProc(t, "wsp_client", agentYAML("victim", port, proto))
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/request", port), nil)
		req.Header.Set("X-PROXY-DESTINATION", api.URL+"/big")
		var resp *http.Response
		deadline := time.Now().Add(10 * time.Second)
		for {
			var err error
			resp, err = client.Do(req)
			if err == nil && resp.StatusCode == 200 {
				break
			}
			if err == nil {
				resp.Body.Close()
			}
			if time.Now().After(deadline) {
				t.Fatalf("no 200 from the tunnel: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		defer resp.Body.Close()
		// v1 cannot flush a partly filled WebSocket frame, so read a bit
		// less than the MiB the API sent before it stalled.
		if _, err := io.ReadFull(resp.Body, make([]byte, 512<<10)); err != nil {
			t.Fatalf("first 512 KiB: %v", err)
		}
		agent.kill()
		start := time.Now()
		n, err := io.Copy(io.Discard, resp.Body)
		if err == nil {
			t.Fatalf("body ended cleanly after the agent was killed (%d more bytes): a silent truncation", n)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the application saw the error after %v", d)
		}
		t.Logf("%s: application saw %q %v after the kill", proto, err, time.Since(start).Round(time.Millisecond))
	})
}

func TestProcessServerRestart(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
		defer api.Close()
		port := freePort(t)
		srv := startProc(t, "wsp_server", serverYAML(port))
		startProc(t, "wsp_client", agentYAML("phoenix", port, proto))
		waitRequest(t, port, api.URL+"/", 10*time.Second)
		srv.kill()
		startProc(t, "wsp_server", serverYAML(port))
		d := waitRequest(t, port, api.URL+"/", 5*time.Second)
		t.Logf("%s: requests work again %v after the server restarted", proto, d.Round(time.Millisecond))
	})
}
