package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsp-tunnel/wsp/internal/config"
	"github.com/wsp-tunnel/wsp/server"
)

// holdBackend holds /hold requests until the test sends on release (or the
// request ends) and answers everything else at once.
func holdBackend(release <-chan struct{}) func(http.ResponseWriter, *http.Request, *record) {
	return func(w http.ResponseWriter, r *http.Request, rec *record) {
		if r.URL.Path == "/hold" {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			case <-time.After(30 * time.Second):
			}
		}
		io.WriteString(w, "ok")
	}
}

// TestLimitMaxStreams: an agent carries at most maxstreams requests at once
// (v1: poolmaxsize connections). A request beyond the cap waits, is served
// as soon as a slot frees within the server's timeout, and otherwise gets
// 503 with Retry-After once the timeout is over.
func TestLimitMaxStreams(t *testing.T) {
	const limit = 4
	const timeout = time.Second
	forEachProtocol(t, func(t *testing.T, proto string) {
		release := make(chan struct{})
		rc := newRecorder(holdBackend(release))
		tn := startTunnel(t, options{protocol: proto, api: rc,
			server: func(c *config.Server) { c.Timeout = timeout },
			agent:  func(c *config.Agent) { c.MaxStreams, c.PoolIdleSize, c.PoolMaxSize = limit, limit, limit },
		})
		waitCapacity(t, tn.core, limit)
		var wg sync.WaitGroup
		t.Cleanup(func() { close(release); wg.Wait() })
		hold := func() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if resp, err := client.Do(tn.request("GET", "/hold", nil)); err == nil {
					readAll(t, resp)
				}
			}()
			for i := 0; rc.next(t, 5*time.Second).RequestURI != "/hold"; i++ {
				if i == 10 {
					t.Fatal("the /hold request never reached the backend")
				}
			}
		}
		for range limit {
			hold()
		}
		// A fifth request waits for a free slot and gets it.
		type result struct {
			status int
			took   time.Duration
			header http.Header
		}
		send := func() <-chan result {
			out := make(chan result, 1)
			go func() {
				start := time.Now()
				resp, err := client.Do(tn.request("GET", "/fast", nil))
				if err != nil {
					out <- result{status: -1}
					return
				}
				readAll(t, resp)
				out <- result{resp.StatusCode, time.Since(start), resp.Header}
			}()
			return out
		}
		waiting := send()
		select {
		case r := <-waiting:
			t.Fatalf("a request beyond the cap of %d was served at once (%d)", limit, r.status)
		case <-time.After(300 * time.Millisecond):
		}
		release <- struct{}{}
		if r := <-waiting; r.status != 200 || r.took < 300*time.Millisecond {
			t.Fatalf("waiting request: %d after %v, want 200 once a slot freed", r.status, r.took)
		}
		// The cap is full again: the next request waits timeout, then 503.
		hold()
		r := <-send()
		t.Logf("%s: request beyond the cap answered %d after %v", proto, r.status, r.took.Round(time.Millisecond))
		if r.status != 503 || r.header.Get("Retry-After") == "" || r.header.Get("X-Wsp-Error") != "agent-busy" {
			t.Errorf("got %d (Retry-After %q, X-Wsp-Error %q), want 503 agent-busy with Retry-After", r.status, r.header.Get("Retry-After"), r.header.Get("X-Wsp-Error"))
		}
		if r.took < timeout || r.took > timeout+time.Second {
			t.Errorf("503 after %v, want after the server's timeout of %v", r.took, timeout)
		}
		if p := rc.peakConcurrency(); p > limit {
			t.Errorf("the backend saw %d requests at once through an agent capped at %d", p, limit)
		}
	})
}

// waitCapacity waits until the server counts n streams or connections for
// the agent (v1 pools fill in the background).
func waitCapacity(t *testing.T, core *server.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		total := 0
		for _, a := range core.Agents() {
			total += a.Capacity
		}
		if total >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("capacity %d, want %d: %+v", total, n, core.Agents())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// crossTalkRequests is the size of TestLimitNoCrossTalk over v2: the full
// 100,000 normally (20 to 45 s on 2 cores), 10,000 under the race detector,
// which slows each request four to ten times and holds about 2.5 GiB for
// the race runtime at this concurrency. WSP_CROSSTALK overrides it.
func crossTalkRequests() int {
	if s := os.Getenv("WSP_CROSSTALK"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	if raceEnabled {
		return 10_000
	}
	return 100_000
}

// idEcho answers /id/<id>?id=<id> with "<path id>|<query id>|<body>".
func idEcho(w http.ResponseWriter, r *http.Request, rec *record) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	w.Header().Set("X-Id", r.URL.Query().Get("id"))
	fmt.Fprintf(w, "%s|%s|%s", strings.TrimPrefix(r.URL.Path, "/id/"), r.URL.Query().Get("id"), body)
}

// TestLimitNoCrossTalk sends many requests at high concurrency, each with a
// unique id in its path, query and body, and a random nonce in the body,
// and checks that 0 answers reach the wrong request.
func TestLimitNoCrossTalk(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		total, conc := crossTalkRequests(), 1000
		if proto == "v1" {
			// One request per WebSocket: 100 connections, a tenth of the load.
			total, conc = total/10, 100
		}
		rc := newRecorder(idEcho)
		rc.arrived = make(chan *record) // not recorded one by one: too many
		tn := startTunnel(t, options{protocol: proto, api: rc,
			server: func(c *config.Server) { c.Timeout = 10 * time.Second },
			agent: func(c *config.Agent) {
				c.PoolIdleSize, c.PoolMaxSize = conc, conc
				// Streams the server dialled but never used count as new,
				// not idle: a graceful stop would wait 5 s for them.
				c.ShutdownTimeout = 100 * time.Millisecond
			},
		})
		waitCapacity(t, tn.core, min(conc, 1024))
		var next, wrong, failed atomic.Int64
		var firstErr sync.Once
		start := time.Now()
		var wg sync.WaitGroup
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					id := next.Add(1)
					if id > int64(total) || time.Since(start) > 4*time.Minute {
						return
					}
					err := crossTalkOne(tn, id)
					switch {
					case err == errWrongAnswer:
						wrong.Add(1)
					case err != nil:
						failed.Add(1)
						firstErr.Do(func() { t.Errorf("request %d: %v", id, err) })
					}
				}
			}()
		}
		wg.Wait()
		done := min(next.Load()-int64(conc), int64(total))
		d := time.Since(start)
		t.Logf("%s: %d requests at concurrency %d in %v (%.0f/s): %d wrong answers, %d failed",
			proto, done, conc, d.Round(time.Millisecond), float64(done)/d.Seconds(), wrong.Load(), failed.Load())
		if wrong.Load() != 0 {
			t.Errorf("%d answers reached the wrong request", wrong.Load())
		}
		if failed.Load() != 0 || done < int64(total) {
			t.Errorf("%d requests failed, %d of %d done", failed.Load(), done, total)
		}
	})
}

var errWrongAnswer = fmt.Errorf("answer for another request")

func crossTalkOne(tn *tunnel, id int64) error {
	nonce := strconv.FormatUint(rand.Uint64(), 36)
	body := fmt.Sprintf("%d:%s", id, nonce)
	req, err := http.NewRequest("POST", tn.pub.URL+"/request", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-PROXY-DESTINATION", fmt.Sprintf("%s/id/%d?id=%d", tn.api.URL, id, id))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d: %s", resp.StatusCode, got)
	}
	want := fmt.Sprintf("%d|%d|%s", id, id, body)
	if string(got) != want || resp.Header.Get("X-Id") != strconv.FormatInt(id, 10) {
		return errWrongAnswer
	}
	return nil
}

// TestIsolationStalledReader: an application that stops reading a large
// answer holds its own stream only; other requests through the same agent
// (one v2 WebSocket) keep their latency, and the stalled answer is intact
// once read.
func TestIsolationStalledReader(t *testing.T) {
	const big = 64 << 20
	forEachProtocol(t, func(t *testing.T, proto string) {
		rc := newRecorder(dataHandler)
		rc.arrived = make(chan *record, 1<<16)
		tn := startTunnel(t, options{protocol: proto, api: rc})
		stalled := do(t, tn.request("GET", fmt.Sprintf("/down?n=%d&seed=9", big), nil))
		defer stalled.Body.Close()
		// Let the stalled answer fill every buffer on its way.
		time.Sleep(300 * time.Millisecond)
		var worst atomic.Int64
		var wg sync.WaitGroup
		for w := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 10 {
					start := time.Now()
					up := bytes.Repeat([]byte{byte(w), byte(i)}, 32<<10)
					resp, err := client.Do(tn.request("POST", "/up", bytes.NewReader(up)))
					if err != nil {
						t.Error(err)
						return
					}
					if body := readAll(t, resp); body != "ok" {
						t.Errorf("small request: %q", body)
					}
					d := time.Since(start)
					for {
						old := worst.Load()
						if int64(d) <= old || worst.CompareAndSwap(old, int64(d)) {
							break
						}
					}
				}
			}()
		}
		wg.Wait()
		t.Logf("%s: slowest of 100 requests next to a stalled reader: %v", proto, time.Duration(worst.Load()).Round(time.Millisecond))
		if d := time.Duration(worst.Load()); d > 2*time.Second {
			t.Errorf("a request took %v next to a stalled reader", d)
		}
		h := sha256.New()
		n, err := io.Copy(h, stalled.Body)
		if err != nil || n != big || hex.EncodeToString(h.Sum(nil)) != dataSHA(9, big) {
			t.Errorf("the stalled answer, read at last: %d bytes, %v, intact %v", n, err, hex.EncodeToString(h.Sum(nil)) == dataSHA(9, big))
		}
	})
}
