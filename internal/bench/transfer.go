package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wsp-tunnel/wsp/internal/demoapi"
)

// copyChunk is the buffer size of transfers.
const copyChunk = 256 << 10

// period is the length of demoapi's /bytes pattern.
const period = 251

// pattern holds demoapi's /bytes pattern, long enough to compare or
// produce any chunk of up to copyChunk bytes at any offset.
var pattern = func() []byte {
	b := make([]byte, period+copyChunk)
	for i := range b {
		b[i] = demoapi.Pattern(int64(i))
	}
	return b
}()

// patternReader produces n bytes of the pattern.
type patternReader struct{ off, n int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), r.n-r.off, copyChunk))
	start := r.off % period
	copy(p[:k], pattern[start:start+int64(k)])
	r.off += int64(k)
	return k, nil
}

// patternChecker counts what is written and checks it against the pattern.
type patternChecker struct{ off int64 }

func (c *patternChecker) Write(p []byte) (int, error) {
	for done := 0; done < len(p); {
		k := min(len(p)-done, copyChunk)
		start := c.off % period
		if !bytes.Equal(p[done:done+k], pattern[start:start+int64(k)]) {
			return done, fmt.Errorf("body differs from the pattern near byte %d", c.off)
		}
		c.off += int64(k)
		done += k
	}
	return len(p), nil
}

// patternSum is the "hex length" line /sha256 answers for n pattern bytes.
func patternSum(n int64) string {
	h := sha256.New()
	io.CopyBuffer(h, &patternReader{n: n}, make([]byte, copyChunk))
	return hex.EncodeToString(h.Sum(nil)) + " " + strconv.FormatInt(n, 10)
}

func transferClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DisableCompression: true,
		DisableKeepAlives:  true,
		WriteBufferSize:    copyChunk,
		ReadBufferSize:     copyChunk,
	}}
}

// download GETs n bytes of /bytes along t, checks them, and returns MiB/s.
func download(ctx context.Context, t *target, n int64, timeout time.Duration) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u, dest := t.url("/bytes?n=" + strconv.FormatInt(n, 10))
	req, err := newRequest(ctx, http.MethodGet, u, dest, nil, 0)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	resp, err := transferClient().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("download: %s", resp.Status)
	}
	var chk patternChecker
	if _, err := io.CopyBuffer(&chk, resp.Body, make([]byte, copyChunk)); err != nil {
		return 0, fmt.Errorf("download after %d bytes: %w", chk.off, err)
	}
	if chk.off != n {
		return 0, fmt.Errorf("download: %d bytes, want %d", chk.off, n)
	}
	return mibPerSec(n, time.Since(start)), nil
}

// upload POSTs n pattern bytes to /sha256 along t, checks the digest
// against want (see patternSum), and returns MiB/s.
func upload(ctx context.Context, t *target, n int64, want string, timeout time.Duration) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u, dest := t.url("/sha256")
	req, err := newRequest(ctx, http.MethodPost, u, dest, &patternReader{n: n}, n)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	resp, err := transferClient().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	elapsed := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("upload: %s: %s", resp.Status, body)
	}
	if got := strings.TrimSpace(string(body)); got != want {
		return 0, fmt.Errorf("upload: API saw %q, want %q", got, want)
	}
	return mibPerSec(n, elapsed), nil
}

func newRequest(ctx context.Context, method, url, dest string, body io.Reader, n int64) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = n
	if dest != "" {
		req.Header.Set("X-PROXY-DESTINATION", dest)
	}
	return req, nil
}

func mibPerSec(n int64, d time.Duration) float64 {
	return float64(n) / (1 << 20) / d.Seconds()
}
