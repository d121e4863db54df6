package e2e

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// TestFaultAgentKilledInFlight: SIGKILL of the agent process with 100
// requests in flight. Every request ends with an error (502) within 2 s,
// the internal API sees each of them cancelled within 2 s too, and a
// restarted agent serves again.
func TestFaultAgentKilledInFlight(t *testing.T) {
	const inflight = 100
	const bound = 2 * time.Second
	forEachProtocol(t, func(t *testing.T, proto string) {
		release := make(chan struct{})
		defer close(release)
		rc := newRecorder(holdBackend(release))
		rc.arrived = make(chan *record, 4*inflight)
		api := startAPI(t, rc)
		port := freePort(t)
		serverURL := fmt.Sprintf("http://127.0.0.1:%d", port)
		startProc(t, "wsp_server", faultServerYAML(port, "timeout", "5000"))
		agentYAML := faultAgentYAML("victim", registerURL(port), proto, "poolidlesize", "110", "poolmaxsize", "120")
		agent := startProc(t, "wsp_client", agentYAML)
		waitRequest(t, port, api.URL+"/ready", 10*time.Second)

		results := make([]<-chan outcome, inflight)
		for i := range results {
			results[i] = sendAsync(client, serverURL, fmt.Sprintf("%s/hold?i=%d", api.URL, i))
		}
		held := waitArrivals(t, rc, "/hold", inflight, 20*time.Second)
		killed := time.Now()
		agent.kill()
		worst := worstFailure(t, results, killed, 10*time.Second, "the agent was killed")
		apiWorst := worstCancel(t, held, killed, 5*time.Second, "the agent died")
		t.Logf("%s: %d in-flight requests failed within %v of the SIGKILL; the API saw them cancelled within %v",
			proto, inflight, worst.Round(time.Millisecond), apiWorst.Round(time.Millisecond))
		if worst > bound || apiWorst > bound {
			t.Errorf("requests ended %v (API %v) after the kill, want within %v", worst, apiWorst, bound)
		}
		startProc(t, "wsp_client", agentYAML)
		d := waitRequest(t, port, api.URL+"/ready", 5*time.Second)
		t.Logf("%s: the restarted agent served %v after it started", proto, d.Round(time.Millisecond))
	})
}

// attempts records the times of TCP connections to an address where the
// server should be, closing each at once: the agent's dial fails.
type attempts struct {
	ln net.Listener
	wg sync.WaitGroup

	mu    sync.Mutex
	times []time.Time // guarded by mu
}

func listenAttempts(t *testing.T, port int) *attempts {
	t.Helper()
	var ln net.Listener
	var err error
	for range 100 { // the killed server's port is free again within moments
		if ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	a := &attempts{ln: ln}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.mu.Lock()
			a.times = append(a.times, time.Now())
			a.mu.Unlock()
			c.Close()
		}
	}()
	t.Cleanup(a.close)
	return a
}

func (a *attempts) close() {
	a.ln.Close()
	a.wg.Wait()
}

// gaps returns the gaps between reconnect rounds: attempts closer than
// 20 ms together are one round (a v1 agent may redial several connections
// at once before its first failure).
func (a *attempts) gaps() []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	var rounds []time.Time
	for _, at := range a.times {
		if len(rounds) == 0 || at.Sub(rounds[len(rounds)-1]) > 20*time.Millisecond {
			rounds = append(rounds, at)
		}
	}
	var gaps []time.Duration
	for i := 1; i < len(rounds); i++ {
		gaps = append(gaps, rounds[i].Sub(rounds[i-1]))
	}
	return gaps
}

// TestFaultServerKilledBackoff: SIGKILL of the server. While it is down,
// its agents redial with exponential backoff and jitter: the test listens
// on the dead servers' ports, counts the attempts of two agents cut off at
// the same moment, and checks that the gaps grow, stay under backoffmax,
// and differ between the agents (no synchronised reconnect storm). Once a
// server is back, its agent serves again within 5 s.
func TestFaultServerKilledBackoff(t *testing.T) {
	const backoffMin, backoffMax = 100 * time.Millisecond, 800 * time.Millisecond
	const down = 3 * time.Second
	forEachProtocol(t, func(t *testing.T, proto string) {
		api := startAPI(t, newRecorder(nil))
		ports := []int{freePort(t), freePort(t)}
		servers := make([]*proc, len(ports))
		for i, port := range ports {
			servers[i] = startProc(t, "wsp_server", faultServerYAML(port))
			startProc(t, "wsp_client", faultAgentYAML(fmt.Sprintf("phoenix-%d", i), registerURL(port), proto,
				"backoffmin", fmt.Sprint(backoffMin.Milliseconds()), "backoffmax", fmt.Sprint(backoffMax.Milliseconds())))
		}
		for _, port := range ports {
			waitRequest(t, port, api.URL+"/ready", 10*time.Second)
		}
		for _, s := range servers {
			s.kill()
		}
		recs := []*attempts{listenAttempts(t, ports[0]), listenAttempts(t, ports[1])}
		time.Sleep(down)
		var gaps [][]time.Duration
		for i, a := range recs {
			a.close()
			g := a.gaps()
			t.Logf("%s: agent %d redial gaps while its server was down: %v", proto, i, roundAll(g))
			checkBackoffGaps(t, g, backoffMax)
			gaps = append(gaps, g)
		}
		checkJitter(t, gaps[0], gaps[1])
		for _, port := range ports {
			startProc(t, "wsp_server", faultServerYAML(port))
		}
		for i, port := range ports {
			d := waitRequest(t, port, api.URL+"/ready", 5*time.Second)
			t.Logf("%s: agent %d serves again %v after its server restarted", proto, i, d.Round(time.Millisecond))
		}
	})
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// checkBackoffGaps: enough attempts to see the growth, each gap at most
// backoffmax (plus scheduling slack), and two attempts apart a gap is longer
// (the delay quadruples, jitter takes at most half of it) until the cap.
func checkBackoffGaps(t *testing.T, gaps []time.Duration, backoffMax time.Duration) {
	t.Helper()
	if len(gaps) < 4 {
		t.Errorf("only %d redial gaps seen: %v", len(gaps), gaps)
		return
	}
	for i, g := range gaps {
		if g > backoffMax+300*time.Millisecond {
			t.Errorf("gap %d is %v, over backoffmax %v", i, g, backoffMax)
		}
	}
	for i := 0; i+2 < len(gaps) && gaps[i] < backoffMax/4; i++ {
		if gaps[i+2] <= gaps[i] {
			t.Errorf("gaps do not grow: gap %d %v, gap %d %v", i, gaps[i], i+2, gaps[i+2])
		}
	}
}

// checkJitter: two agents that lost their servers at the same moment do
// not redial in step.
func checkJitter(t *testing.T, a, b []time.Duration) {
	t.Helper()
	var diff time.Duration
	n := min(len(a), len(b))
	for i := range n {
		diff += (a[i] - b[i]).Abs()
	}
	t.Logf("two agents' redial gaps differ by %v in all over %d gaps", diff.Round(time.Millisecond), n)
	if n < 3 || diff < 30*time.Millisecond {
		t.Errorf("the agents redial in step (%v apart over %d gaps): no jitter", diff, n)
	}
}
