package e2e

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"
)

// The conformance tests send requests through the real tunnel (server and
// agent in process, over loopback) to a recording backend and check what
// arrived at each end. Each runs over v2 and v1 unless v1 cannot carry the
// behaviour, in which case its v1 subtest checks and documents what v1 does
// instead (see docs/RELIABILITY.md, "v1 compatibility").

// env1GiB adds 1 GiB bodies to TestConformanceBodyBytes.
const env1GiB = "WSP_E2E_1GIB"

// bodySizes are the body sizes moved each way: empty, tiny, around the
// buffer and frame sizes, and large.
func bodySizes() []int64 {
	sizes := []int64{0, 1, 1000, 32<<10 + 1, 1<<20 + 7, 64 << 20}
	if os.Getenv(env1GiB) != "" {
		sizes = append(sizes, 1<<30)
	}
	return sizes
}

// data returns n reproducible pseudo-random bytes (every byte value occurs)
// for a seed, as a stream: nothing is held in memory.
func data(seed uint64, n int64) io.Reader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return io.LimitReader(rand.NewChaCha8(key), n)
}

// dataSHA is the hex sha256 of data(seed, n).
func dataSHA(seed uint64, n int64) string {
	h := sha256.New()
	io.Copy(h, data(seed, n))
	return hex.EncodeToString(h.Sum(nil))
}

// hiddenLength hides a reader's length so that the client sends it chunked.
type hiddenLength struct{ io.Reader }

// dataHandler is the recorder's answer for the body tests: /up reads and
// records the body; /down?n=N&seed=S&chunked=1 sends data(S, N).
func dataHandler(w http.ResponseWriter, r *http.Request, rec *record) {
	rec.readBody(r)
	if r.URL.Path != "/down" {
		io.WriteString(w, "ok")
		return
	}
	q := r.URL.Query()
	n, _ := strconv.ParseInt(q.Get("n"), 10, 64)
	seed, _ := strconv.ParseUint(q.Get("seed"), 10, 64)
	if q.Get("chunked") == "" {
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	io.Copy(w, data(seed, n))
}

// TestConformanceBodyBytes moves binary bodies of every size both ways,
// with a length and chunked, and checks them byte for byte (sha256).
func TestConformanceBodyBytes(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		rc := newRecorder(dataHandler)
		tn := startTunnel(t, options{protocol: proto, api: rc})
		for i, n := range bodySizes() {
			for _, chunked := range []bool{false, true} {
				if chunked && n > 2<<20 {
					continue // chunked framing is covered by the smaller sizes
				}
				seed := uint64(i*2 + 1)
				if chunked {
					seed++
				}
				name := fmt.Sprintf("%d-bytes", n)
				if chunked {
					name += "-chunked"
				}
				t.Run("up/"+name, func(t *testing.T) { checkUpload(t, tn, rc, seed, n, chunked) })
				t.Run("down/"+name, func(t *testing.T) { checkDownload(t, tn, rc, seed, n, chunked) })
			}
		}
	})
}

func checkUpload(t *testing.T, tn *tunnel, rc *recorder, seed uint64, n int64, chunked bool) {
	var body io.Reader = data(seed, n)
	if chunked {
		body = hiddenLength{body}
	}
	req := tn.request("POST", "/up", body)
	if !chunked {
		req.ContentLength = n
	}
	resp := do(t, req)
	if got := readAll(t, resp); resp.StatusCode != 200 || got != "ok" {
		t.Fatalf("got %d %q, want 200 ok", resp.StatusCode, got)
	}
	rec := rc.next(t, time.Second)
	gotN, gotSHA, err := rec.Body()
	if err != nil || gotN != n || gotSHA != dataSHA(seed, n) {
		t.Fatalf("backend got %d bytes (sha %s, err %v), want %d bytes sha %s", gotN, gotSHA, err, n, dataSHA(seed, n))
	}
	if cl := rec.Header.Get("Content-Length"); !chunked && n > 0 && cl != strconv.FormatInt(n, 10) {
		t.Errorf("backend saw Content-Length %q, want %d", cl, n)
	}
}

func checkDownload(t *testing.T, tn *tunnel, rc *recorder, seed uint64, n int64, chunked bool) {
	path := fmt.Sprintf("/down?n=%d&seed=%d", n, seed)
	if chunked {
		path += "&chunked=1"
	}
	resp := do(t, tn.request("GET", path, nil))
	defer resp.Body.Close()
	rc.next(t, time.Second)
	h := sha256.New()
	got, err := io.Copy(h, resp.Body)
	if err != nil || resp.StatusCode != 200 || got != n {
		t.Fatalf("status %d, %d of %d bytes, err %v", resp.StatusCode, got, n, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != dataSHA(seed, n) {
		t.Fatalf("body differs: sha %s, want %s", sum, dataSHA(seed, n))
	}
	if !chunked && resp.ContentLength != n {
		t.Errorf("Content-Length %d, want %d", resp.ContentLength, n)
	}
}

// TestConformanceRawPathAndQuery checks that the request target reaching the
// backend is the destination's, byte for byte, once canonical (see package
// rules: escapes of unreserved characters decoded, hex upper-cased, dot
// segments removed, empty query dropped).
func TestConformanceRawPathAndQuery(t *testing.T) {
	cases := []struct{ dest, want string }{
		{"/p?a=1&b=2", "/p?a=1&b=2"},
		{"/p?x=%00%FF%2F%26%3D&x=2&&empty=&plus=a+b&semi=a;b&q=?/", "/p?x=%00%FF%2F%26%3D&x=2&&empty=&plus=a+b&semi=a;b&q=?/"},
		{"/a%2Fb/c%20d/%E2%82%AC;v=1?q=%E2%82%AC#frag", "/a%2Fb/c%20d/%E2%82%AC;v=1?q=%E2%82%AC"},
		{"/badescape?%zz&%4", "/badescape?%zz&%4"},
		{"/x/../y/./z/?%7e%2f", "/y/z/?~%2F"},
		{"/only?", "/only"},
		{"", "/"},
	}
	forEachProtocol(t, func(t *testing.T, proto string) {
		rc := newRecorder(nil)
		tn := startTunnel(t, options{protocol: proto, api: rc})
		for _, tc := range cases {
			resp := do(t, tn.request("GET", tc.dest, nil))
			body := readAll(t, resp)
			if resp.StatusCode != 200 {
				t.Errorf("destination path %q: got %d %q", tc.dest, resp.StatusCode, body)
				continue
			}
			if got := rc.next(t, time.Second).RequestURI; got != tc.want {
				t.Errorf("destination path %q: backend saw %q, want %q", tc.dest, got, tc.want)
			}
		}
		// An invalid escape in the path has no canonical form: refused.
		resp := do(t, tn.request("GET", "/bad%zzescape", nil))
		if body := readAll(t, resp); resp.StatusCode != 400 {
			t.Errorf("invalid path escape: got %d %q, want 400", resp.StatusCode, body)
		}
	})
}
