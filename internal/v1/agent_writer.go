package v1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// StatusLegacyError is the status a legacy agent answers when it cannot
// serve a request, with the error text as the body.
const StatusLegacyError = 527

// Legacy error bodies, byte for byte (note which end in a newline).
const (
	LegacyForbidden  = "Destination is forbidden"     // blacklist denial
	LegacyNotAllowed = "Destination is not allowed\n" // whitelist denial
)

// LegacyExecError returns the legacy body for a failed request to the
// destination: "Unable to execute request : <err>\n".
func LegacyExecError(err error) string {
	return "Unable to execute request : " + err.Error() + "\n"
}

type legacyKey struct{}

// WithLegacy marks ctx as serving a v1 exchange (RunAgent does it for the
// request contexts it creates), so that a handler answers errors the v1 way.
func WithLegacy(ctx context.Context) context.Context {
	return context.WithValue(ctx, legacyKey{}, true)
}

// IsLegacy reports whether ctx was marked by WithLegacy.
func IsLegacy(ctx context.Context) bool {
	v, _ := ctx.Value(legacyKey{}).(bool)
	return v
}

// WriteLegacyError answers status with body as a legacy agent does. On the
// ResponseWriter of RunAgent (found through Unwrap() http.ResponseWriter
// wrappers) the head comes out as {"StatusCode":527,"Header":{},
// "ContentLength":N} byte for byte: headers set so far are cleared and N is
// passed to the writer directly, not through a Content-Length header. On any
// other ResponseWriter it just writes status and body. It must be called
// before anything else was written.
func WriteLegacyError(w http.ResponseWriter, status int, body string) {
	if rw := findWriter(w); rw != nil && !rw.headSent {
		clear(rw.header)
		rw.fieldLen = int64(len(body))
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func findWriter(w http.ResponseWriter) *responseWriter {
	for {
		switch x := w.(type) {
		case *responseWriter:
			return x
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
}

// responseWriter turns a handler's answer into a response head (text
// message) and one streamed body message. Like net/http's, it is not safe
// for concurrent use and must not be used after the handler returned.
type responseWriter struct {
	c        *conn
	method   string
	header   http.Header
	fieldLen int64 // the head's ContentLength when set directly (WriteLegacyError, empty answer), else -1

	headSent bool
	status   int
	declared int64          // the head's ContentLength (-1: unknown)
	written  int64          // body bytes written
	w        io.WriteCloser // the body message, nil before the first byte
	err      error          // sticky write error
}

func (rw *responseWriter) Header() http.Header { return rw.header }

// WriteHeader sends the head. 1xx statuses are not carried by v1 and are
// ignored; later calls are ignored too.
func (rw *responseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if rw.headSent || code < 200 {
		return
	}
	rw.headSent, rw.status = true, code
	rw.declared = rw.fieldLen
	if rw.declared < 0 {
		rw.declared = declaredLength(rw.header)
	}
	b, err := EncodeResponseHead(ResponseHead{StatusCode: code, Header: cleanHeader(rw.header), ContentLength: rw.declared})
	if err == nil {
		err = rw.c.ws.WriteMessage(websocket.TextMessage, b)
	}
	if err != nil {
		rw.err = brokenf("write response head", err)
	}
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	rw.WriteHeader(http.StatusOK)
	switch {
	case rw.err != nil:
		return 0, rw.err
	case rw.method == http.MethodHead:
		return len(p), nil // as net/http: the body of a HEAD answer is dropped
	case !bodyAllowed(rw.method, rw.status):
		return 0, http.ErrBodyNotAllowed
	case rw.declared >= 0 && rw.written+int64(len(p)) > rw.declared:
		return 0, http.ErrContentLength
	}
	if rw.w == nil {
		if rw.w, rw.err = rw.c.ws.NextWriter(websocket.BinaryMessage); rw.err != nil {
			return 0, rw.err
		}
	}
	n, err := rw.w.Write(p)
	rw.written += int64(n)
	if err != nil {
		rw.err = brokenf("write response body", err)
	}
	return n, rw.err
}

// Flush sends the head if it was not sent yet. Body bytes leave in frames
// as the WebSocket write buffer fills: gorilla's message writer cannot send
// a partial frame before the message ends (the legacy agent could not
// either, and a legacy server does not flush its own writes).
func (rw *responseWriter) Flush() { rw.WriteHeader(http.StatusOK) }

// finish ends the response after the handler returned: it sends a 200 head
// if none was sent and ends the body message (an empty one when nothing was
// written). A body shorter than its announced length is an error, and the
// message is then left unfinished.
func (rw *responseWriter) finish() error {
	if !rw.headSent && rw.fieldLen < 0 && rw.header.Get("Content-Length") == "" {
		rw.fieldLen = 0 // nothing was written: the body is known to be empty
	}
	rw.WriteHeader(http.StatusOK)
	switch {
	case rw.err != nil:
		return rw.err
	case rw.declared >= 0 && rw.written < rw.declared && bodyAllowed(rw.method, rw.status):
		return brokenf(fmt.Sprintf("handler wrote %d of %d body bytes", rw.written, rw.declared), nil)
	}
	w := rw.w
	rw.err = errWriterDone
	if w == nil {
		return rw.c.ws.WriteMessage(websocket.BinaryMessage, nil)
	}
	return w.Close()
}

var errWriterDone = errors.New("v1: write after the handler returned")

// declaredLength returns a valid Content-Length header, else -1 (an invalid
// one is removed, as net/http does).
func declaredLength(h http.Header) int64 {
	n, err := contentLength(h)
	if err != nil {
		h.Del("Content-Length")
		return -1
	}
	return n
}

// cleanHeader drops fields a peer would reject (net/http drops or rewrites
// them when writing a response).
func cleanHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if !validToken(k) {
			continue
		}
		kept := make([]string, 0, len(vs))
		for _, v := range vs {
			if !strings.ContainsAny(v, "\r\n\x00") {
				kept = append(kept, v)
			}
		}
		if len(kept) > 0 {
			out[k] = kept
		}
	}
	return out
}

// reqBody streams the request body message to the handler.
type reqBody struct {
	c      *conn
	m      message
	closed atomic.Bool

	mu  sync.Mutex  // serialises reads
	lr  exactReader // guarded by mu
	err error       // guarded by mu: sticky, io.EOF at a clean end
}

func (b *reqBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, http.ErrBodyReadAfterClose
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.readLocked(p)
}

func (b *reqBody) readLocked(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.lr.Read(p)
	switch {
	case err == io.EOF:
		b.err = io.EOF
		b.m.finish() // the read loop may go on: a message now is unsolicited
	case err != nil:
		b.err = brokenf("request body", err)
		b.c.shutdown(websocket.CloseProtocolError, b.err)
	}
	if err != nil {
		return n, b.err
	}
	return n, nil
}

// Close marks the body closed; the rest is drained after the handler.
func (b *reqBody) Close() error {
	b.closed.Store(true)
	return nil
}

// drain reads the rest of the body message.
func (b *reqBody) drain() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	buf := make([]byte, 4096)
	for b.err == nil {
		_, _ = b.readLocked(buf)
	}
	if b.err == io.EOF {
		return nil
	}
	return b.err
}
