package v1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// copyBufSize is the size of the buffer used to stream a request body.
const copyBufSize = 32 << 10

var errIdleTimeout = fmt.Errorf("%w: idle for too long", errLocalClose)

// ServerConn is one v1 WebSocket of a ServerPool. Between TryAcquire and
// Release it belongs to the caller, who runs at most one RoundTrip on it.
type ServerConn struct {
	// static after construction
	pool    *ServerPool
	c       *conn
	maxHead int

	idleSince time.Time // guarded by pool.mu
	ex        *exchange // owned by the acquirer
}

// exchange is the state of one RoundTrip. It ends cleanly when both the
// request body writer and the response body reader (Release) report a clean
// end; the last of the two returns the connection to the pool.
type exchange struct {
	sc   *ServerConn
	ctx  context.Context
	stop func() bool // stops the context watcher
	body *respBody

	mu      sync.Mutex
	pending int  // guarded by mu: parts still running
	failed  bool // guarded by mu
}

// RoundTrip runs one v1 exchange: it sends req as a head and a body message
// and returns the response, whose Body streams the agent's body message.
//
// req is what httputil.ReverseProxy hands its Transport: req.URL absolute,
// hop-by-hop headers removed, ContentLength -1 when unknown. The head gets
// req.Header as is, except that X-Proxy-Destination (which the legacy server
// added) and an empty User-Agent (which ReverseProxy adds to stop Go's
// default) are left out. The request body is copied by a goroutine that
// closes req.Body; it may outlive RoundTrip and Release while the caller's
// Body.Read blocks.
//
// If req.Context() is cancelled during the exchange, the connection is
// closed (v1 cannot cancel one exchange) and the context error returned.
// Every other error wraps ErrConnBroken; the connection is then closed.
func (sc *ServerConn) RoundTrip(req *http.Request) (*http.Response, error) {
	head, err := requestHead(req)
	if err != nil {
		closeBody(req.Body)
		return nil, brokenf("invalid request", err)
	}
	b, err := EncodeRequestHead(head)
	if err != nil {
		closeBody(req.Body)
		return nil, brokenf("invalid request", err)
	}
	ex := sc.begin(req.Context())
	resp, err := ex.run(req, b, head.ContentLength)
	if err != nil {
		return nil, ex.fail(err)
	}
	return resp, nil
}

func (sc *ServerConn) begin(ctx context.Context) *exchange {
	ex := &exchange{sc: sc, ctx: ctx, pending: 2}
	sc.ex = ex
	ex.stop = context.AfterFunc(ctx, func() {
		sc.c.shutdown(websocket.CloseGoingAway, fmt.Errorf("v1: request cancelled: %w", ctx.Err()))
	})
	return ex
}

func (ex *exchange) run(req *http.Request, head []byte, cl int64) (*http.Response, error) {
	c := ex.sc.c
	headCh := c.expect() // armed before the agent can possibly answer
	if err := c.ws.WriteMessage(websocket.TextMessage, head); err != nil {
		closeBody(req.Body)
		return nil, brokenf("write request head", err)
	}
	go ex.writeBody(req.Body, cl)
	m, err := c.receive(ex.ctx, headCh)
	if err != nil {
		return nil, err
	}
	if m.typ != websocket.TextMessage {
		return nil, brokenf("response head is not a text message", nil)
	}
	rh, err := DecodeResponseHead(m.r, ex.sc.maxHead)
	if err != nil {
		return nil, brokenf("read response head", err)
	}
	return ex.response(req, rh, m)
}

// response builds the *http.Response for head rh. Its ContentLength (and
// the exact body length checked) is the Content-Length header when there is
// one, else the head's ContentLength field. The body message is
// received lazily, on the first Read, so that headers reach the application
// before the first body byte.
func (ex *exchange) response(req *http.Request, rh ResponseHead, m message) (*http.Response, error) {
	cl, err := contentLength(rh.Header)
	if err != nil {
		return nil, brokenf("response head", err)
	}
	if cl < 0 {
		// No header: the ContentLength field, which a legacy agent sets
		// from Go's resp.ContentLength (-1 when unknown); its 527 answers
		// have only the field.
		cl = rh.ContentLength
	}
	limit := cl
	if !bodyAllowed(req.Method, rh.StatusCode) {
		limit = 0
	}
	ex.body = &respBody{ex: ex, ch: ex.sc.c.expect(), limit: limit}
	m.finish()
	return &http.Response{
		Status:     statusLine(rh.StatusCode),
		StatusCode: rh.StatusCode,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        nonNil(rh.Header),
		ContentLength: cl,
		Body:          ex.body,
		Request:       req,
	}, nil
}

// fail closes the connection after a failed RoundTrip and returns the error
// to report: the context error if the request was cancelled.
func (ex *exchange) fail(err error) error {
	ex.part(err)
	if ctxErr := ex.ctx.Err(); ctxErr != nil {
		return fmt.Errorf("v1: exchange aborted: %w", ctxErr)
	}
	return err
}

// writeBody sends the request body as one binary message (empty when
// there is none), streamed with a 32 KiB buffer.
func (ex *exchange) writeBody(body io.ReadCloser, cl int64) {
	err := ex.copyBody(body, cl)
	closeBody(body)
	if err != nil {
		err = brokenf("write request body", err)
	}
	ex.part(err)
}

func (ex *exchange) copyBody(body io.ReadCloser, cl int64) error {
	w, err := ex.sc.c.ws.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return err
	}
	if cl != 0 {
		if err := copyExact(w, body, cl); err != nil {
			return err // the message stays unfinished: the agent sees a broken body
		}
	}
	return w.Close()
}

// copyExact copies body to w, checking that it has exactly cl bytes when
// cl >= 0. The wrappers hide ReadFrom/WriteTo so that the 32 KiB buffer is
// used and nothing is buffered whole.
func copyExact(w io.Writer, body io.Reader, cl int64) error {
	buf := make([]byte, copyBufSize)
	dst, src := struct{ io.Writer }{w}, struct{ io.Reader }{body}
	if cl < 0 {
		_, err := io.CopyBuffer(dst, src, buf)
		return err
	}
	n, err := io.CopyBuffer(dst, io.LimitReader(src, cl), buf)
	switch {
	case err != nil:
		return err
	case n < cl:
		return fmt.Errorf("request body has %d bytes, ContentLength is %d: %w", n, cl, io.ErrUnexpectedEOF)
	}
	if k, _ := io.ReadFull(body, buf[:1]); k > 0 {
		return fmt.Errorf("request body longer than ContentLength %d", cl)
	}
	return nil
}

// part records the end of one part of the exchange (err nil: clean). A
// failed part closes the connection; the last part of a clean exchange
// makes it idle again.
func (ex *exchange) part(err error) {
	ex.mu.Lock()
	ex.pending--
	if err != nil {
		ex.failed = true
	}
	last, failed := ex.pending == 0, ex.failed
	ex.mu.Unlock()
	if err != nil {
		ex.sc.c.shutdown(websocket.CloseGoingAway, err)
	}
	if last && !failed {
		ex.sc.pool.markIdle(ex.sc)
	}
}

// Release ends the caller's use of the connection: it goes back to idle if
// the exchange ended cleanly (the response body was read to EOF and the
// request body fully sent; the latter may complete after Release), else the
// connection is closed. Release does not wait for the request body writer.
func (sc *ServerConn) Release() {
	ex := sc.ex
	sc.ex = nil
	if ex == nil { // no exchange was started: the connection is untouched
		sc.pool.markIdle(sc)
		return
	}
	stopped := ex.stop()
	switch {
	case ex.body == nil:
		// RoundTrip failed and already closed the connection.
	case !stopped:
		ex.part(brokenf("request cancelled", ex.ctx.Err()))
	case !ex.body.eof.Load():
		ex.part(brokenf("response body not read to the end", nil))
	default:
		ex.part(nil)
	}
}

func requestHead(req *http.Request) (RequestHead, error) {
	if req.URL == nil {
		return RequestHead{}, errors.New("nil URL")
	}
	h := req.Header.Clone()
	h.Del("X-Proxy-Destination")
	if ua, ok := h["User-Agent"]; ok && len(ua) == 1 && ua[0] == "" {
		delete(h, "User-Agent")
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	cl := req.ContentLength
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		cl = 0
	case cl == 0:
		cl = -1 // Go client semantics: 0 with a body means unknown
	}
	return RequestHead{Method: method, URL: req.URL.String(), Header: h, ContentLength: cl}, nil
}

// contentLength returns the response's Content-Length header (-1 when
// absent). An invalid or conflicting one is an error.
func contentLength(h http.Header) (int64, error) {
	vs := h.Values("Content-Length")
	if len(vs) == 0 {
		return -1, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(vs[0]), 10, 64)
	if err != nil || n < 0 || strings.ContainsAny(vs[0], "+-") {
		return 0, fmt.Errorf("invalid Content-Length %q", vs[0])
	}
	for _, v := range vs[1:] {
		if strings.TrimSpace(v) != strings.TrimSpace(vs[0]) {
			return 0, errors.New("conflicting Content-Length headers")
		}
	}
	return n, nil
}

// bodyAllowed reports whether a response may carry a body.
func bodyAllowed(method string, status int) bool {
	return method != http.MethodHead && status >= 200 && status != 204 && status != 304
}

func statusLine(code int) string {
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + strconv.Itoa(code)
	}
	return strconv.Itoa(code) + " " + text
}

func closeBody(b io.ReadCloser) {
	if b != nil {
		_ = b.Close()
	}
}
