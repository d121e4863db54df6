package agent

import (
	"io"
	"net/http"
	"sync/atomic"

	v1 "github.com/wsp-tunnel/wsp/internal/v1"
)

// ReverseProxy reports an internal API's body that breaks mid-way by
// panicking with http.ErrAbortHandler only when it runs under an
// http.Server (v2). Under the v1 agent it logs and returns normally, which
// would end a chunked answer cleanly: a silent truncation. bodyWatch lets
// the handler notice and abort the v1 exchange itself.

type bodyWatchKey struct{}

// bodyWatch records that the API's response body failed before its end.
type bodyWatch struct{ broken atomic.Bool }

type watchedBody struct {
	io.ReadCloser
	w *bodyWatch
}

func (b watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.w.broken.Store(true)
	}
	return n, err
}

// watchBody is the proxy's ModifyResponse. A 101's body must stay the
// connection itself (ReverseProxy needs its io.ReadWriteCloser).
func watchBody(resp *http.Response) error {
	w, ok := resp.Request.Context().Value(bodyWatchKey{}).(*bodyWatch)
	if ok && resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body = watchedBody{resp.Body, w}
	}
	return nil
}

// abortIfBroken aborts the response (the v1 agent then closes the
// connection, so the server sees a broken body) if the API's body broke.
func (w *bodyWatch) abortIfBroken() {
	if w.broken.Load() {
		panic(http.ErrAbortHandler)
	}
}

// consumeEmptyLegacyBody reads a v1 request's empty body to its end. The v1
// agent reads its connection again, and so notices a server that hung up
// (cancelling the request), only once the body message is consumed, and
// ReverseProxy never reads an empty body.
func consumeEmptyLegacyBody(r *http.Request) {
	if r.ContentLength == 0 && r.Body != nil && v1.IsLegacy(r.Context()) {
		_, _ = io.Copy(io.Discard, r.Body)
	}
}
