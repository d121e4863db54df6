package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wsp-tunnel/wsp/internal/config"
	"github.com/wsp-tunnel/wsp/server"
)

// TestFaultDuplicateAgentID checks the server's policy for two agent
// processes with the same id (server/registry.go addSession): the newest v2
// session replaces the older one, so one id never has two live sessions.
// The older session takes no new request but finishes those in flight
// (graceful replacement), then closes. Its agent reconnects and in turn
// replaces the other: two live agents sharing an id alternate, each switch
// slowed by the reconnect backoff, and no request fails meanwhile.
//
// Each agent's whitelist tells them apart: the first serves /a/, the second
// /b/, both serve /both/.
func TestFaultDuplicateAgentID(t *testing.T) {
	const id = "twin"
	release := make(chan struct{})
	rc := newRecorder(holdBackend(release))
	rc.arrived = make(chan *record, 1024)
	api := startAPI(t, rc)
	core, pub := startServerOnly(t, func(c *config.Server) { c.SecretKey, c.Timeout = "s3cret", 2*time.Second })
	target := "ws" + strings.TrimPrefix(pub.URL, "http") + "/register"
	whitelist := func(paths string) string { return fmt.Sprintf(`[{url: "^%s/(%s)"}]`, api.URL, paths) }
	startProc(t, "wsp_client", faultAgentYAML(id, target, "v2", "whitelist", whitelist("a/|both/|hold")))
	waitAgent(t, core, id)
	served := func(path string) bool { return !(<-sendAsync(client, pub.URL, api.URL+path)).failed() }
	if !served("/a/1") || served("/b/1") {
		t.Fatal("the first agent does not serve /a/ only")
	}

	held := sendAsync(client, pub.URL, api.URL+"/hold")
	waitArrivals(t, rc, "/hold", 1, 5*time.Second)
	startProc(t, "wsp_client", faultAgentYAML(id, target, "v2", "whitelist", whitelist("b/|both/")))
	start := time.Now()
	for !served("/b/2") {
		if time.Since(start) > 5*time.Second {
			t.Fatal("the second agent with the same id never served")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("the second agent took over %v after it started", time.Since(start).Round(time.Millisecond))
	close(release)
	if o := <-held; o.failed() {
		t.Errorf("the request in flight on the replaced session failed: %d %v", o.status, o.err)
	}

	// Both agents stay up: they alternate, and requests keep succeeding.
	var failed, sessions, switches int
	last := ""
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		if !served("/both/x") {
			failed++
		}
		var mine []server.AgentInfo
		for _, a := range core.Agents() {
			if a.ID == id {
				mine = append(mine, a)
			}
		}
		sessions = max(sessions, len(mine))
		who := "b"
		if served("/a/x") {
			who = "a"
		}
		if last != "" && who != last {
			switches++
		}
		last = who
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("two live agents with one id: %d switches in 3 s, %d failed requests, at most %d entry", switches, failed, sessions)
	if failed > 0 {
		t.Errorf("%d requests failed while two agents shared an id", failed)
	}
	if sessions > 1 {
		t.Errorf("the id had %d entries at once", sessions)
	}
}
