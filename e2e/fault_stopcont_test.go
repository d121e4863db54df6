package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsp-tunnel/wsp/internal/config"
)

// TestFaultStopContNoReplay: the agent process is frozen (SIGSTOP) with
// requests in flight, more requests are sent while it is frozen, and every
// one of them fails at the application (the server gives up on the silent
// agent after 2 pings over v2; over v1 the application's own 3 s timeout
// ends them). Then the agent is thawed (SIGCONT). Requests that already
// failed must not be executed afterwards: the internal API counts requests
// by id, and a failed request that reaches it later is a replay. The agent
// then serves again.
func TestFaultStopContNoReplay(t *testing.T) {
	const ping = 500 * time.Millisecond
	const held, late = 3, 5
	forEachProtocol(t, func(t *testing.T, proto string) {
		release := make(chan struct{})
		defer close(release)
		rc := newRecorder(holdBackend(release))
		rc.arrived = make(chan *record, 256)
		api := startAPI(t, rc)
		core, pub := startServerOnly(t, func(c *config.Server) {
			c.PingInterval, c.Timeout, c.SecretKey = ping, time.Second, "s3cret"
		})
		const id = "frozen"
		agent := startProc(t, "wsp_client", faultAgentYAML(id, "ws"+strings.TrimPrefix(pub.URL, "http")+"/register", proto,
			"poolidlesize", "4", "poolmaxsize", "20"))
		waitAgent(t, core, id)
		waitCapacity(t, core, 4)
		impatient := &http.Client{Transport: client.Transport, Timeout: 3 * time.Second}

		var results []<-chan outcome
		for i := range held {
			results = append(results, sendAsync(impatient, pub.URL, fmt.Sprintf("%s/hold?i=%d", api.URL, i)))
		}
		waitArrivals(t, rc, "/hold", held, 5*time.Second)
		agent.signal(t, syscall.SIGSTOP)
		waitState(t, agent.cmd.Process.Pid, 'T')
		stopped := time.Now()
		for i := range late {
			results = append(results, sendAsync(impatient, pub.URL, fmt.Sprintf("%s/late/%d", api.URL, i)))
			time.Sleep(50 * time.Millisecond)
		}
		var worst time.Duration
		for i, ch := range results {
			o := <-ch
			if !o.failed() {
				t.Fatalf("request %d succeeded through a frozen agent", i)
			}
			worst = max(worst, o.at.Sub(stopped))
		}
		t.Logf("%s: all %d requests failed within %v of the SIGSTOP", proto, len(results), worst.Round(time.Millisecond))
		agent.signal(t, syscall.SIGCONT)
		back := waitServing(t, pub.URL, api.URL+"/after", 5*time.Second)
		t.Logf("%s: the thawed agent serves again %v after SIGCONT", proto, back.Round(time.Millisecond))
		time.Sleep(500 * time.Millisecond) // room for a replay to show up
		counts := map[string]int{}
		for _, rec := range rc.records() {
			counts[rec.RequestURI]++
		}
		for i := range held {
			if n := counts[fmt.Sprintf("/hold?i=%d", i)]; n != 1 {
				t.Errorf("/hold?i=%d reached the API %d times, want once", i, n)
			}
		}
		for i := range late {
			if n := counts[fmt.Sprintf("/late/%d", i)]; n != 0 {
				t.Errorf("/late/%d failed at the application but reached the API %d time(s) after SIGCONT: a replay", i, n)
			}
		}
	})
}

// waitState waits until the process is in state (from /proc/PID/stat: 'T'
// stopped): a signal takes effect a moment after kill(2) returns.
func waitState(t *testing.T, pid int, state byte) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		// The state follows the command name, which is in parentheses.
		if i := bytes.LastIndexByte(b, ')'); i > 0 && i+2 < len(b) && b[i+2] == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d not in state %c: %s", pid, state, b)
		}
		time.Sleep(time.Millisecond)
	}
}
