package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/wsp-tunnel/wsp/internal/demoapi"
)

// slowGet starts GET /sleep?d=... through the server and returns its result.
func slowGet(port int, api string, d time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/request", port), nil)
		req.Header.Set("X-PROXY-DESTINATION", fmt.Sprintf("%s/sleep?d=%s", api, d))
		resp, err := client.Do(req)
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil && (resp.StatusCode != 200 || string(body) != fmt.Sprintf("slept %s\n", d)) {
			err = fmt.Errorf("got %d %q", resp.StatusCode, body)
		}
		done <- err
	}()
	return done
}

// waitExit waits for a process to exit by itself and returns how long it took.
func waitExit(t *testing.T, p *proc, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("the process did not exit within %v", within)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	return time.Since(start)
}

// TestProcessGracefulShutdown sends SIGTERM to the agent, then to the server,
// each while a request is in flight: the request completes, the process
// exits by itself with status 0.
func TestProcessGracefulShutdown(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		api := httptest.NewServer(demoapi.Handler())
		defer api.Close()
		port := freePort(t)
		srv := startProc(t, "wsp_server", serverYAML(port))
		ag := startProc(t, "wsp_client", agentYAML("graceful-"+proto, port, proto))
		waitRequest(t, port, api.URL+"/hello", 10*time.Second)

		inflight := slowGet(port, api.URL, 700*time.Millisecond)
		time.Sleep(200 * time.Millisecond)
		ag.cmd.Process.Signal(syscall.SIGTERM)
		if err := <-inflight; err != nil {
			t.Fatalf("request in flight during the agent's shutdown: %v", err)
		}
		d := waitExit(t, ag, 10*time.Second)
		t.Logf("%s: agent finished its request and exited %v after it", proto, d.Round(time.Millisecond))

		ag2 := startProc(t, "wsp_client", agentYAML("graceful2-"+proto, port, proto))
		_ = ag2
		waitRequest(t, port, api.URL+"/hello", 10*time.Second)
		inflight = slowGet(port, api.URL, 700*time.Millisecond)
		time.Sleep(200 * time.Millisecond)
		srv.cmd.Process.Signal(syscall.SIGTERM)
		if err := <-inflight; err != nil {
			t.Fatalf("request in flight during the server's shutdown: %v", err)
		}
		d = waitExit(t, srv, 10*time.Second)
		t.Logf("%s: server finished its request and exited %v after it", proto, d.Round(time.Millisecond))
	})
}
