package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wsp-tunnel/wsp/internal/config"
	"github.com/wsp-tunnel/wsp/server"
)

// TestFaultNetworkStall: the path between a real agent process and the
// server (in process, so that its sessions can be counted) goes silent —
// a relay stops forwarding without closing anything — for 2 s, then heals.
//
// v2: both ends notice within 2 ping intervals (pinginterval 500 ms on
// both): the requests in flight fail, and the internal API sees them
// cancelled. Once the path heals the agent is back within 5 s, with exactly
// one live session and one live connection, and stays so.
//
// v1: a busy v1 connection is not pinged out (a legacy agent does not
// answer pings while it works), so requests in flight survive the stall
// and complete once it heals; idle connections are replaced, and the agent
// serves new requests after the stall with only live connections left.
func TestFaultNetworkStall(t *testing.T) {
	const ping = 500 * time.Millisecond
	const stall = 2 * time.Second
	const inflight = 5
	forEachProtocol(t, func(t *testing.T, proto string) {
		release := make(chan struct{})
		rc := newRecorder(holdBackend(release))
		rc.arrived = make(chan *record, 256)
		api := startAPI(t, rc)
		core, pub := startServerOnly(t, func(c *config.Server) {
			c.PingInterval, c.Timeout, c.SecretKey = ping, 3*time.Second, "s3cret"
		})
		r := startRelay(t, strings.TrimPrefix(pub.URL, "http://"))
		const id = "stalled"
		startProc(t, "wsp_client", faultAgentYAML(id, "ws://"+r.addr()+"/register", proto,
			"backoffmax", "500", "poolidlesize", "2", "poolmaxsize", "20"))
		waitAgent(t, core, id)
		waitCapacity(t, core, 2)

		results := make([]<-chan outcome, inflight)
		for i := range results {
			results[i] = sendAsync(client, pub.URL, fmt.Sprintf("%s/hold?i=%d", api.URL, i))
		}
		held := waitArrivals(t, rc, "/hold", inflight, 5*time.Second)
		stalledAt := time.Now()
		r.stall()
		if proto == "v2" {
			checkStallDetectedV2(t, results, held, stalledAt, 2*ping)
		} else {
			checkInFlightSurvivesV1(t, results)
		}
		time.Sleep(time.Until(stalledAt.Add(stall)))
		r.heal()
		if proto == "v1" {
			close(release)
			for i, ch := range results {
				if o := <-ch; o.failed() {
					t.Errorf("v1 request %d in flight across the stall failed after it healed: %d %v", i, o.status, o.err)
				}
			}
		} else {
			defer close(release)
		}
		back := waitServing(t, pub.URL, api.URL+"/after", 5*time.Second)
		t.Logf("%s: the agent serves again %v after the path healed", proto, back.Round(time.Millisecond))
		checkOneSession(t, core, r, id, proto, 3*ping)
	})
}

// checkStallDetectedV2: every request in flight fails, and its API request
// is cancelled, within bound of the stall (plus scheduling slack).
func checkStallDetectedV2(t *testing.T, results []<-chan outcome, held []*record, stalledAt time.Time, bound time.Duration) {
	t.Helper()
	const slack = 400 * time.Millisecond // scheduling, with the server under -race
	worst := worstFailure(t, results, stalledAt, 5*time.Second, "the path stalled")
	apiWorst := worstCancel(t, held, stalledAt, 5*time.Second, "the path stalled")
	t.Logf("v2: stall noticed, requests in flight failed within %v, API requests cancelled within %v (2 pings = %v)",
		worst.Round(time.Millisecond), apiWorst.Round(time.Millisecond), bound)
	if worst > bound+slack || apiWorst > bound+slack {
		t.Errorf("requests failed %v (API cancelled %v) into the stall, want within 2 pings (%v)", worst, apiWorst, bound)
	}
}

// checkInFlightSurvivesV1: no v1 request in flight ends during the stall.
func checkInFlightSurvivesV1(t *testing.T, results []<-chan outcome) {
	t.Helper()
	for i, ch := range results {
		select {
		case o := <-ch:
			t.Fatalf("v1 request %d ended during the stall (%d %v): v1 now pings busy connections, update the docs", i, o.status, o.err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitServing retries a request through the server until it answers 200.
func waitServing(t *testing.T, serverURL, dest string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if o := <-sendAsync(client, serverURL, dest); !o.failed() {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no request served within %v", within)
	return 0
}

// checkOneSession: after settle, the agent has exactly one entry on the
// server and every connection through the relay belongs to it (one for a
// v2 session, the pool's size for v1); no connection churn afterwards.
func checkOneSession(t *testing.T, core *server.Server, r *relay, id, proto string, settle time.Duration) {
	t.Helper()
	time.Sleep(settle)
	check := func() (server.AgentInfo, int) {
		var mine []server.AgentInfo
		for _, a := range core.Agents() {
			if a.ID == id {
				mine = append(mine, a)
			}
		}
		if len(mine) != 1 || mine[0].Protocol != proto {
			t.Fatalf("agent entries %+v, want one %s entry", mine, proto)
		}
		want := 1
		if proto == "v1" {
			want = mine[0].Capacity
		}
		if live := r.liveConnections(); live != want {
			t.Errorf("%d live connections through the relay, want %d (%+v)", live, want, mine[0])
		}
		return mine[0], r.forwarded()
	}
	a, before := check()
	time.Sleep(settle)
	_, after := check()
	t.Logf("%s: one live entry %+v after the stall", proto, a)
	if proto == "v2" && after != before {
		t.Errorf("the agent reconnected %d more times after it was back", after-before)
	}
}
