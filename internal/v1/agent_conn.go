package v1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"

	"github.com/gorilla/websocket"
)

var errHandlerAborted = errors.New("v1: handler aborted the response")

// agentConn serves the exchanges of one v1 WebSocket, one at a time.
type agentConn struct {
	// static after construction
	a      *agent
	c      *conn
	ctx    context.Context // cancelled when the connection closes or the shutdown grace ends
	cancel context.CancelFunc
}

func newAgentConn(a *agent, ws *websocket.Conn) *agentConn {
	ac := &agentConn{a: a}
	ac.ctx, ac.cancel = context.WithCancel(a.hard)
	ac.c = newConn(ws, a.cfg.Logger, a.cfg.PingInterval, ac.cancel)
	context.AfterFunc(ac.ctx, func() {
		ac.c.shutdown(websocket.CloseGoingAway, fmt.Errorf("%w: agent stopping", errLocalClose))
	})
	return ac
}

// run sends the greeting and serves exchanges until the connection fails.
func (ac *agentConn) run() {
	defer ac.cancel()
	defer ac.c.close(errLocalClose)
	greeting := FormatGreeting(ac.a.cfg.ID, ac.a.cfg.IdleSize)
	if err := ac.c.ws.WriteMessage(websocket.TextMessage, []byte(greeting)); err != nil {
		ac.c.shutdown(websocket.CloseGoingAway, brokenf("write greeting", err))
		return
	}
	next := ac.c.expect()
	ac.c.start() // after the greeting: it must be the first frame, before any ping
	for {
		ac.a.setState(ac, true, false)
		m, err := ac.c.receive(ac.a.ctx, next) // an idle connection closes when RunAgent stops
		if err != nil {
			return
		}
		ac.c.setBusy(true)
		ac.a.setState(ac, false, false)
		if next, err = ac.serve(m); err != nil {
			ac.c.shutdown(closeCode(err), err)
			return
		}
		ac.c.setBusy(false)
	}
}

// serve runs one exchange whose head message is m. It returns the channel
// armed for the next head.
func (ac *agentConn) serve(m message) (chan message, error) {
	head, u, err := ac.readHead(m)
	if err != nil {
		ac.answerBadHead(err)
		return nil, err
	}
	bodyCh := ac.c.expect()
	m.finish()
	bm, err := ac.c.receive(ac.ctx, bodyCh)
	if err != nil {
		return nil, err
	}
	if bm.typ != websocket.BinaryMessage {
		return nil, brokenf("request body is not a binary message", nil)
	}
	ctx, cancel := context.WithCancel(WithLegacy(ac.ctx))
	defer cancel()
	body := &reqBody{c: ac.c, m: bm, lr: exactReader{r: bm.r, limit: head.ContentLength}}
	if head.ContentLength == 0 {
		// End an empty body now: the read loop then watches the connection
		// during the exchange, so a server that hangs up cancels it (a
		// handler need not read an empty body).
		_, _ = io.Copy(io.Discard, body)
	}
	req := ac.newRequest(ctx, head, u, body)
	rw := &responseWriter{c: ac.c, method: head.Method, header: make(http.Header), fieldLen: -1}
	if !ac.callHandler(rw, req) {
		return nil, errHandlerAborted
	}
	if ac.ctx.Err() != nil {
		// The connection closed or the shutdown grace ended while the
		// handler ran, so what it wrote may be cut short (a cancelled proxy
		// writes nothing at all). Never finish it as a complete answer.
		return nil, fmt.Errorf("%w: cut off by shutdown", errHandlerAborted)
	}
	next := ac.c.expect() // armed before our last frame can reach the server
	return next, ac.finish(rw, body)
}

// finish completes the response while the rest of the request body is
// drained (a legacy server may still be writing it), then waits for the
// drain so that the next head can be read.
func (ac *agentConn) finish(rw *responseWriter, body *reqBody) error {
	drained := make(chan error, 1)
	go func() { drained <- body.drain() }()
	werr := rw.finish()
	if werr != nil {
		ac.c.shutdown(websocket.CloseInternalServerErr, werr) // unblocks the drain
	}
	if derr := <-drained; werr == nil && derr != nil {
		return derr
	}
	return werr
}

// readHead reads and validates a request head message.
func (ac *agentConn) readHead(m message) (RequestHead, *url.URL, error) {
	if m.typ != websocket.TextMessage {
		return RequestHead{}, nil, &HeadError{Kind: "request", Err: errors.New("head is not a text message")}
	}
	head, err := DecodeRequestHead(m.r, ac.a.cfg.MaxHeadBytes)
	if err != nil {
		return RequestHead{}, nil, err
	}
	u, err := url.Parse(head.URL)
	if err != nil {
		return RequestHead{}, nil, &HeadError{Kind: "request", Err: err}
	}
	return head, u, nil
}

// answerBadHead answers a head that cannot be used with a legacy 527; the
// connection is then closed, as the legacy agent does.
func (ac *agentConn) answerBadHead(err error) {
	var he *HeadError
	if errors.As(err, &he) {
		err = he.Err // the legacy text carries the bare JSON error
	}
	body := "Unable to deserialize json http request : " + err.Error() + "\n"
	rw := &responseWriter{c: ac.c, header: make(http.Header), fieldLen: -1}
	WriteLegacyError(rw, StatusLegacyError, body)
	_ = rw.finish()
}

func (ac *agentConn) newRequest(ctx context.Context, head RequestHead, u *url.URL, body *reqBody) *http.Request {
	h := head.Header
	if h == nil {
		h = make(http.Header)
	}
	h.Set("X-Proxy-Destination", head.URL)
	req := &http.Request{
		Method: head.Method, URL: u, RequestURI: head.URL, Host: u.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: body, ContentLength: head.ContentLength,
		RemoteAddr: ac.c.ws.RemoteAddr().String(),
	}
	// Handlers see a server context, as under net/http: httputil.ReverseProxy
	// then aborts (panics with http.ErrAbortHandler) when an answer breaks
	// mid-body instead of ending it cleanly, and callHandler turns that into
	// an unfinished message.
	return req.WithContext(context.WithValue(ctx, http.ServerContextKey, handlerServer))
}

// handlerServer is the http.ServerContextKey value of v1 request contexts.
var handlerServer = &http.Server{}

// callHandler runs the handler and reports whether it returned normally.
// After a panic (http.ErrAbortHandler or another) the response is left
// unfinished: the connection is closed and the server sees a broken body.
func (ac *agentConn) callHandler(rw *responseWriter, req *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ok = false
			if v == http.ErrAbortHandler {
				ac.c.log.Debug("v1: handler aborted the response")
			} else {
				ac.c.log.Error("v1: handler panic", "panic", v, "stack", string(debug.Stack()))
			}
		}
	}()
	ac.a.cfg.Handler.ServeHTTP(rw, req)
	return true
}

// closeCode is the close frame code for an exchange that failed with err.
func closeCode(err error) int {
	var he *HeadError
	if errors.As(err, &he) {
		return websocket.CloseProtocolError
	}
	return websocket.CloseInternalServerErr
}
