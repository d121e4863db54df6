package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsp-tunnel/wsp/internal/config"
	"github.com/wsp-tunnel/wsp/internal/demoapi"
)

// envSoak sets the churn phase of TestSoakChurn (a Go duration, e.g. 10m).
const envSoak = "WSP_SOAK"

// soakDuration is the churn phase: 45 s by default (the whole test takes
// about a minute), longer with WSP_SOAK.
func soakDuration(t *testing.T) time.Duration {
	if s := os.Getenv(envSoak); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("%s=%q: want a duration such as 10m", envSoak, s)
		}
		return d
	}
	return 45 * time.Second
}

// usage is what the soak watches for leaks.
type usage struct {
	goroutines int
	fds        int
	rss        int64 // bytes
	heap       uint64
}

func (u usage) String() string {
	return fmt.Sprintf("%d goroutines, %d open files, RSS %.1f MiB, heap %.1f MiB",
		u.goroutines, u.fds, float64(u.rss)/(1<<20), float64(u.heap)/(1<<20))
}

// measure collects garbage, returns memory to the OS, and reads the usage
// of this process.
func measure(t *testing.T) usage {
	t.Helper()
	runtime.GC() // twice: sync.Pools keep their items for one more cycle
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return usage{goroutines: runtime.NumGoroutine(), fds: len(fds), rss: selfRSS(t), heap: ms.HeapInuse}
}

// selfRSS reads VmRSS of this process.
func selfRSS(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// soak is the shared state of one TestSoakChurn run.
type soak struct {
	t      *testing.T
	api    string // the internal API's URL
	target string // the server's /register
	client *http.Client

	ok, failed, cancelled, slow atomic.Int64
	connects                    atomic.Int64
}

// TestSoakChurn runs agents that connect and disconnect (v2 and v1,
// gracefully or abruptly, some sharing an id) and applications that send
// every kind of request and cancel some of them, all against one server,
// then checks that goroutines, open files and memory return to what they
// were after a warm-up. Bounded: about a minute by default, WSP_SOAK=10m
// for a longer run.
func TestSoakChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("soak skipped in -short mode")
	}
	api := startAPI(t, demoapi.Handler())
	core, pub := startServerOnly(t, func(c *config.Server) { c.Timeout = 500 * time.Millisecond })
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	s := &soak{t: t, api: api.URL, target: "ws" + strings.TrimPrefix(pub.URL, "http") + "/register",
		client: &http.Client{Transport: tr, Timeout: 15 * time.Second}}
	// settle waits for the agents to be gone and for what closed
	// connections hold to be released (yamux keeps a closed stream up to
	// its 5 s close timeout), then measures.
	settle := func() usage {
		stopped := time.Now()
		tr.CloseIdleConnections()
		deadline := time.Now().Add(15 * time.Second)
		for len(core.Agents()) > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Until(stopped.Add(6 * time.Second)))
		return measure(t)
	}
	s.run(5*time.Second, pub.URL)
	base := settle()
	t.Logf("baseline after warm-up: %v", base)
	d := soakDuration(t)
	s.run(d, pub.URL)
	end := settle()
	t.Logf("after %v of churn (%d agent connections, %d requests ok, %d failed, %d cancelled): %v",
		d, s.connects.Load(), s.ok.Load(), s.failed.Load(), s.cancelled.Load(), end)
	if end.goroutines > base.goroutines+5 {
		t.Errorf("goroutines: %d after the soak, %d before", end.goroutines, base.goroutines)
		buf := make([]byte, 1<<20)
		t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	}
	if end.fds > base.fds+5 {
		t.Errorf("open files: %d after the soak, %d before", end.fds, base.fds)
	}
	if end.heap > base.heap+8<<20 {
		t.Errorf("heap in use: %d after the soak, %d before", end.heap, base.heap)
	}
	if end.rss > base.rss+base.rss/4+32<<20 {
		t.Errorf("RSS: %d after the soak, %d before", end.rss, base.rss)
	}
	if s.slow.Load() > 0 {
		t.Errorf("%d requests took longer than 12 s", s.slow.Load())
	}
	if s.ok.Load() < s.failed.Load() {
		t.Errorf("more requests failed (%d) than succeeded (%d)", s.failed.Load(), s.ok.Load())
	}
}

// run churns agents and applications for d, then stops them all.
func (s *soak) run(d time.Duration, serverURL string) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for slot := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.agentSlot(ctx, slot)
		}()
	}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.application(ctx, serverURL)
		}()
	}
	wg.Wait()
}

// agentSlot starts agents one after the other until ctx is done: each runs
// 0.2 to 2 s, over v2 or v1, and stops gracefully or abruptly (no grace
// period). Slot 0 always keeps one agent up so that most requests succeed;
// the other slots share two ids.
func (s *soak) agentSlot(ctx context.Context, slot int) {
	for n := 0; ctx.Err() == nil; n++ {
		cfg := config.DefaultAgent()
		cfg.Targets = []string{s.target}
		cfg.ID = fmt.Sprintf("soak-%d", slot%3)
		cfg.Protocol = []string{"v2", "v1"}[rand.IntN(2)]
		cfg.PoolIdleSize, cfg.PoolMaxSize = 2, 8
		cfg.BackoffMin, cfg.BackoffMax = 50*time.Millisecond, 200*time.Millisecond
		cfg.ShutdownTimeout = time.Duration(rand.IntN(2)) * 200 * time.Millisecond
		stop := startAgent(s.t, cfg)
		s.connects.Add(1)
		life := time.Duration(200+rand.IntN(1800)) * time.Millisecond
		if slot == 0 {
			life = 3 * time.Second
		}
		select {
		case <-ctx.Done():
		case <-time.After(life):
		}
		stop()
	}
}

// application sends requests until ctx is done: small and large, uploads
// and downloads, and requests it cancels before or during the answer.
func (s *soak) application(ctx context.Context, serverURL string) {
	for ctx.Err() == nil {
		var path string
		var body io.Reader
		cancelAfter := time.Duration(0)
		switch rand.IntN(6) {
		case 0:
			path = "/hello"
		case 1:
			path, body = "/echo", bytes.NewReader(make([]byte, 64<<10))
		case 2:
			path = "/bytes?n=1048576"
		case 3:
			path, cancelAfter = "/sleep?d=2s", time.Duration(rand.IntN(300))*time.Millisecond
		case 4:
			path, cancelAfter = "/bytes?n=67108864", time.Duration(rand.IntN(100))*time.Millisecond
		default:
			path = "/sleep?d=20ms"
		}
		s.one(serverURL, path, body, cancelAfter)
	}
}

func (s *soak) one(serverURL, path string, body io.Reader, cancelAfter time.Duration) {
	method := "GET"
	if body != nil {
		method = "POST"
	}
	rctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if cancelAfter > 0 {
		t := time.AfterFunc(cancelAfter, cancel)
		defer t.Stop()
	}
	req, _ := http.NewRequestWithContext(rctx, method, serverURL+"/request", body)
	req.Header.Set("X-PROXY-DESTINATION", s.api+path)
	start := time.Now()
	resp, err := s.client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if time.Since(start) > 12*time.Second {
		s.slow.Add(1)
	}
	switch {
	case rctx.Err() != nil:
		s.cancelled.Add(1)
	case err != nil || resp.StatusCode != 200:
		s.failed.Add(1)
	default:
		s.ok.Add(1)
	}
}
