package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsp-tunnel/wsp/internal/demoapi"
)

// rssLimit is the most either process may hold while 1 GiB streams through.
const rssLimit = 64 << 20

// peakRSS reads VmHWM (the peak resident set) of a process, in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// patternReader yields n bytes of demoapi's pattern.
type patternReader struct{ off, n int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	k := min(int64(len(b)), p.n-p.off)
	for i := range k {
		b[i] = demoapi.Pattern(p.off + i)
	}
	p.off += k
	return int(k), nil
}

// TestProcessStreamingMemory moves 1 GiB each way through real server and
// agent processes and checks that neither holds more than 64 MiB.
func TestProcessStreamingMemory(t *testing.T) {
	const size = 1 << 30
	forEachProtocol(t, func(t *testing.T, proto string) {
		api := httptest.NewServer(demoapi.Handler())
		defer api.Close()
		port := freePort(t)
		srv := startProc(t, "wsp_server", serverYAML(port))
		waitRequest0(t, port)
		ag := startProc(t, "wsp_client", agentYAML("mem-"+proto, port, proto))
		first := waitRequest(t, port, api.URL+"/hello", 10*time.Second)
		t.Logf("%s: first proxied request %v after the agent process started", proto, first.Round(time.Millisecond))
		url := fmt.Sprintf("http://127.0.0.1:%d/request", port)

		start := time.Now()
		direct := do(t, mustRequest(t, "GET", fmt.Sprintf("%s/bytes?n=%d", api.URL, size)))
		if n, err := checkPattern(direct.Body); err != nil || n != size {
			t.Fatalf("direct download: %d bytes, %v", n, err)
		}
		direct.Body.Close()
		t.Logf("direct: 1 GiB down %.0f MB/s", size/time.Since(start).Seconds()/1e6)

		start = time.Now()
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("X-PROXY-DESTINATION", fmt.Sprintf("%s/bytes?n=%d", api.URL, size))
		resp := do(t, req)
		n, err := checkPattern(resp.Body)
		resp.Body.Close()
		if err != nil || n != size {
			t.Fatalf("download: %d bytes, %v", n, err)
		}
		down := time.Since(start)

		start = time.Now()
		req, _ = http.NewRequest("POST", url, &patternReader{n: size})
		req.ContentLength = size
		req.Header.Set("X-PROXY-DESTINATION", api.URL+"/sha256")
		resp = do(t, req)
		got := readAll(t, resp)
		h := sha256.New()
		io.Copy(h, &patternReader{n: size})
		if want := fmt.Sprintf("%s %d\n", hex.EncodeToString(h.Sum(nil)), size); got != want {
			t.Fatalf("upload: API got %q, want %q", got, want)
		}
		up := time.Since(start)

		srss, arss := peakRSS(t, srv.cmd.Process.Pid), peakRSS(t, ag.cmd.Process.Pid)
		t.Logf("%s: 1 GiB down %.0f MB/s, up %.0f MB/s; peak RSS server %.1f MiB, agent %.1f MiB",
			proto, size/down.Seconds()/1e6, size/up.Seconds()/1e6, float64(srss)/(1<<20), float64(arss)/(1<<20))
		if srss > rssLimit || arss > rssLimit {
			t.Errorf("peak RSS server %d, agent %d: over %d", srss, arss, rssLimit)
		}
	})
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// waitRequest0 waits until the server answers /status.
func waitRequest0(t *testing.T, port int) {
	t.Helper()
	for range 500 {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/status", port))
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the server did not come up")
}
