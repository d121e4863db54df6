package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The fault tests run the real wsp_server and wsp_client binaries (see
// process_test.go) or a real agent against an in-process server, break
// something, and measure how long the system takes to notice and heal.
// Each logs the bound it measured; docs/RELIABILITY.md lists them.

// yamlConfig renders a config with the base keys, then the overrides given
// as key, value pairs (an override replaces the base value).
func yamlConfig(base map[string]string, kv ...string) string {
	m := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, m[k])
	}
	return b.String()
}

// faultServerYAML is a server config on port with small timers.
func faultServerYAML(port int, kv ...string) string {
	return yamlConfig(map[string]string{
		"host": "127.0.0.1", "port": fmt.Sprint(port), "timeout": "1000",
		"secretkey": "s3cret", "loglevel": "debug", "pinginterval": "500",
	}, kv...)
}

// faultAgentYAML is an agent config dialling target with small timers.
func faultAgentYAML(id, target, proto string, kv ...string) string {
	return yamlConfig(map[string]string{
		"id": id, "targets": "[" + target + "]", "secretkey": "s3cret", "protocol": proto,
		"poolidlesize": "2", "poolmaxsize": "10", "backoffmin": "100", "backoffmax": "1000",
		"pinginterval": "500", "dialtimeout": "1000", "shutdowntimeout": "1000", "loglevel": "debug",
	}, kv...)
}

func registerURL(port int) string { return fmt.Sprintf("ws://127.0.0.1:%d/register", port) }

// signal sends sig to the process.
func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// startAPI serves h on loopback until the test ends.
func startAPI(t *testing.T, h http.Handler) *httptest.Server {
	api := httptest.NewServer(h)
	t.Cleanup(api.Close)
	return api
}

// outcome is how one application request ended.
type outcome struct {
	status int // -1: transport error
	err    error
	at     time.Time
}

func (o outcome) failed() bool { return o.status != 200 }

// sendAsync sends GET dest through the server at serverURL and reports
// how it ended, its body read to the end (a broken body counts as -1).
func sendAsync(c *http.Client, serverURL, dest string) <-chan outcome {
	out := make(chan outcome, 1)
	go func() {
		req, _ := http.NewRequest("GET", serverURL+"/request", nil)
		req.Header.Set("X-PROXY-DESTINATION", dest)
		resp, err := c.Do(req)
		if err != nil {
			out <- outcome{status: -1, err: err, at: time.Now()}
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		st := resp.StatusCode
		if err != nil {
			st = -1
		}
		out <- outcome{status: st, err: err, at: time.Now()}
	}()
	return out
}

// waitArrivals takes n records of path from rc within d.
func waitArrivals(t *testing.T, rc *recorder, path string, n int, d time.Duration) []*record {
	t.Helper()
	deadline := time.After(d)
	var out []*record
	for len(out) < n {
		select {
		case rec := <-rc.arrived:
			if strings.HasPrefix(rec.RequestURI, path) {
				out = append(out, rec)
			}
		case <-deadline:
			t.Fatalf("%d of %d requests reached the backend within %v", len(out), n, d)
		}
	}
	return out
}

// worstFailure waits for every outcome: each must be a failure, and each
// must arrive within wait. It returns the latest, counted from since.
func worstFailure(t *testing.T, results []<-chan outcome, since time.Time, wait time.Duration, cause string) time.Duration {
	t.Helper()
	var worst time.Duration
	for i, ch := range results {
		select {
		case o := <-ch:
			if !o.failed() {
				t.Errorf("request %d succeeded after %s", i, cause)
			}
			worst = max(worst, o.at.Sub(since))
		case <-time.After(wait):
			t.Fatalf("request %d still running %v after %s", i, wait, cause)
		}
	}
	return worst
}

// worstCancel waits up to wait for each API request in held to end, and
// returns the latest end after since. An API request still running fails
// the test: the tunnel did not cancel it after cause.
func worstCancel(t *testing.T, held []*record, since time.Time, wait time.Duration, cause string) time.Duration {
	t.Helper()
	var worst time.Duration
	for _, rec := range held {
		select {
		case <-rec.ended:
			worst = max(worst, rec.EndedAt().Sub(since))
		case <-time.After(wait):
			t.Fatalf("the API still runs %s %v after %s", rec.RequestURI, wait, cause)
		}
	}
	return worst
}
