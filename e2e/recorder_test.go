package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// record is what the recording backend saw of one request.
type record struct {
	Method     string
	RequestURI string // the raw request target: path and query as sent
	Host       string
	Header     http.Header // values in the order they arrived
	Arrived    time.Time

	ended chan struct{} // closed when the request's context ended

	mu      sync.Mutex
	endedAt time.Time   // guarded by mu
	trailer http.Header // guarded by mu; set by readBody
	bodyLen int64       // guarded by mu
	bodySHA string      // guarded by mu
	bodyErr error       // guarded by mu
	read    bool        // guarded by mu: readBody ran
}

// EndedAt returns when the request's context ended (zero if it has not).
func (rec *record) EndedAt() time.Time {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.endedAt
}

// Body returns the length and hex sha256 of the body and the read error.
func (rec *record) Body() (int64, string, error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.bodyLen, rec.bodySHA, rec.bodyErr
}

// Trailer returns the request trailers read with the body.
func (rec *record) Trailer() http.Header {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.trailer.Clone()
}

// readBody reads r's body to its end, hashing it, and keeps the trailers.
func (rec *record) readBody(r *http.Request) {
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.bodyLen, rec.bodySHA, rec.bodyErr, rec.read = n, hex.EncodeToString(h.Sum(nil)), err, true
	rec.trailer = r.Trailer.Clone()
}

// recorder is a backend that records every request it receives, then lets
// the test's respond func answer it. The default answer reads the body and
// replies 200 "ok".
type recorder struct {
	respond func(w http.ResponseWriter, r *http.Request, rec *record)
	arrived chan *record // every record, as its request arrives (buffered)

	mu   sync.Mutex
	all  []*record // guarded by mu
	busy int       // guarded by mu: handlers running
	peak int       // guarded by mu: most handlers running at once
}

func newRecorder(respond func(http.ResponseWriter, *http.Request, *record)) *recorder {
	if respond == nil {
		respond = func(w http.ResponseWriter, r *http.Request, rec *record) {
			rec.readBody(r)
			io.WriteString(w, "ok")
		}
	}
	return &recorder{respond: respond, arrived: make(chan *record, 4096)}
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &record{
		Method: r.Method, RequestURI: r.RequestURI, Host: r.Host,
		Header: r.Header.Clone(), Arrived: time.Now(), ended: make(chan struct{}),
	}
	// Not stopped when the handler returns: a handler that returns because
	// its context ended could otherwise stop f before it ran. A request's
	// context always ends, at the latest when its handler has returned.
	context.AfterFunc(r.Context(), func() {
		rec.mu.Lock()
		rec.endedAt = time.Now()
		rec.mu.Unlock()
		close(rec.ended)
	})
	rc.mu.Lock()
	rc.all = append(rc.all, rec)
	rc.busy++
	rc.peak = max(rc.peak, rc.busy)
	rc.mu.Unlock()
	defer func() {
		rc.mu.Lock()
		rc.busy--
		rc.mu.Unlock()
	}()
	select {
	case rc.arrived <- rec:
	default:
	}
	rc.respond(w, r, rec)
}

// next waits for the next request to arrive at the backend.
func (rc *recorder) next(t testing.TB, within time.Duration) *record {
	t.Helper()
	select {
	case rec := <-rc.arrived:
		return rec
	case <-time.After(within):
		t.Fatalf("no request reached the backend within %v", within)
		return nil
	}
}

// records returns every request seen so far.
func (rc *recorder) records() []*record {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*record(nil), rc.all...)
}

// peakConcurrency returns the most requests the backend handled at once.
func (rc *recorder) peakConcurrency() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.peak
}
