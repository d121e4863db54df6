package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

// An exchange is one HTTP/1.1 request and its response on a v2 stream. The
// server writes the request with Request.Write and reads the answer with
// http.ReadResponse on the calling goroutine: no per-connection read and
// write loops as in http.Transport. A stream carries one exchange at a time
// and goes back to its session's idle list when both directions ended
// cleanly; anything else closes it.

const (
	// continueTimeout is how long a request that expects 100-continue waits
	// for it before its body is sent anyway. The agent relays the internal
	// API's 100 and waits 1 s for it itself.
	continueTimeout = 2 * time.Second
	// maxResponseHead bounds the bytes of one response head from an agent.
	maxResponseHead = 1 << 20
	// max1xx bounds the interim responses before the final one.
	max1xx = 5
	// streamIdleTimeout closes a stream idle for this long.
	streamIdleTimeout = 90 * time.Second
)

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 16<<10) }}

	// errBodySkipped ends a request body that the agent answered before
	// asking for it with 100 Continue.
	errBodySkipped = errors.New("request body not sent: the agent answered first")
	// errNoResponse: the stream ended before any byte of a response.
	errNoResponse = errors.New("no response")
	// aLongTimeAgo is a read deadline that wakes a blocked read at once.
	aLongTimeAgo = time.Unix(1, 0)
)

// streamConn is a stream and what outlives one exchange on it.
type streamConn struct {
	st *yamux.Stream
	// head bounds reads while a response head is parsed; see limited.
	head  limited
	since time.Time // when it went idle
}

func newStreamConn(st *yamux.Stream) *streamConn {
	c := &streamConn{st: st}
	c.head.r = st
	c.head.n = -1
	return c
}

// usable reports whether an idle stream can carry another exchange: the
// agent has not closed or reset it, and has sent nothing unasked. An agent
// closes its idle streams when it shuts down; without this check a request
// that is not safe to repeat could meet such a stream and fail.
func (c *streamConn) usable() bool {
	if c.st.SetReadDeadline(aLongTimeAgo) != nil {
		return false
	}
	var b [1]byte
	n, err := c.st.Read(b[:])
	return n == 0 && errors.Is(err, yamux.ErrTimeout) && c.st.SetReadDeadline(time.Time{}) == nil
}

// limited reads from r, failing once n bytes are read; n < 0 is no limit.
type limited struct {
	r io.Reader
	n int64
}

var errHeadTooLarge = errors.New("response head from the agent is too large")

func (l *limited) Read(p []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(p)
	}
	if l.n == 0 {
		return 0, errHeadTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// exchange is the state of one request on one stream.
type exchange struct {
	s    *session
	c    *streamConn
	req  *http.Request
	br   *bufio.Reader
	stop func() bool // stops the cancellation hook

	gate     *continueGate // nil unless the request expects 100-continue
	wrote    chan error    // the body writer's result; nil without a body
	closeReq bool          // Connection: close either way
	done     bool          // finish ran
}

// roundTrip runs one exchange on c. It reports whether the request may be
// sent again on another stream: the stream ended before any answer and the
// request is idempotent and has no body.
func (s *session) roundTrip(c *streamConn, req *http.Request) (resp *http.Response, retry bool, err error) {
	x := &exchange{s: s, c: c, req: req, closeReq: req.Close}
	x.stop = context.AfterFunc(req.Context(), x.abort)
	x.br = readerPool.Get().(*bufio.Reader)
	x.br.Reset(&c.head)

	if req.Body == nil || req.Body == http.NoBody {
		if err := x.write(req.Body); err != nil {
			x.finish(false)
			return nil, idempotent(req.Method), err
		}
	} else {
		var body io.ReadCloser = req.Body
		if expectsContinue(req) {
			x.gate = newContinueGate()
			body = &gatedBody{ReadCloser: req.Body, gate: x.gate}
		}
		x.wrote = make(chan error, 1)
		go func() {
			err := x.write(body)
			x.wrote <- err // before the abort below wakes the reader
			if err != nil && !errors.Is(err, errBodySkipped) {
				// A request cut short must not look complete: end the stream.
				x.abort()
			}
		}()
	}

	resp, err = x.readResponse()
	if err != nil {
		retry = errors.Is(err, errNoResponse) && x.wrote == nil && idempotent(req.Method)
		x.finish(false)
		if x.wrote != nil {
			// The writer may still be waiting for the application's body;
			// take its error only if it has one.
			select {
			case werr := <-x.wrote:
				if werr != nil && !errors.Is(werr, errBodySkipped) && req.Context().Err() == nil {
					err = fmt.Errorf("send request: %w", werr)
				}
			default:
			}
		}
		return nil, retry, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body = &upgradedBody{x: x}
		return resp, false, nil
	}
	if resp.Body == http.NoBody {
		x.finish(true)
		return resp, false, nil
	}
	resp.Body = &responseBody{x: x, body: resp.Body}
	return resp, false, nil
}

// write sends the request with body as its body (the request's own, or
// the same held back by a continueGate) through a pooled buffer.
func (x *exchange) write(body io.ReadCloser) error {
	req := x.req
	if body != req.Body {
		r := *req
		r.Body = body
		req = &r
	}
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(x.c.st)
	defer func() {
		bw.Reset(nil)
		writerPool.Put(bw)
	}()
	err := req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	return err
}

// readResponse reads interim responses, passing them to the request's
// trace, until the final response head.
func (x *exchange) readResponse() (*http.Response, error) {
	trace := httptrace.ContextClientTrace(x.req.Context())
	if _, err := x.br.Peek(1); err != nil {
		return nil, fmt.Errorf("%w: %w", errNoResponse, err)
	}
	for n := 0; ; n++ {
		x.c.head.n = maxResponseHead
		resp, err := http.ReadResponse(x.br, x.req)
		x.c.head.n = -1
		if err != nil {
			return nil, err
		}
		code := resp.StatusCode
		if code == http.StatusContinue && x.gate != nil {
			if trace != nil && trace.Got100Continue != nil {
				trace.Got100Continue()
			}
			x.gate.open(true)
		}
		if code < 100 || code > 199 || code == http.StatusSwitchingProtocols {
			if x.gate != nil {
				x.gate.open(false) // answered without asking for the body
			}
			x.closeReq = x.closeReq || resp.Close
			return resp, nil
		}
		if n == max1xx {
			return nil, errors.New("too many interim (1xx) responses from the agent")
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, err
			}
		}
	}
}

// abort ends the exchange at once: a blocked read returns and the agent
// sees the stream end. It is the cancellation hook and safe from any
// goroutine.
func (x *exchange) abort() {
	_ = x.c.st.SetReadDeadline(aLongTimeAgo)
	_ = x.c.st.Close()
}

// finish ends the exchange once: the stream goes back to the idle list if
// the exchange ended cleanly in both directions, and is closed otherwise.
func (x *exchange) finish(clean bool) {
	if x.done {
		return
	}
	x.done = true
	reuse := x.stop() && clean && !x.closeReq && x.br.Buffered() == 0
	if reuse && x.wrote != nil {
		select {
		case err := <-x.wrote:
			reuse = err == nil
		default:
			reuse = false // the agent answered before reading all of the body
		}
	}
	x.br.Reset(nil)
	readerPool.Put(x.br)
	x.br = nil
	if reuse {
		x.s.putIdle(x.c)
		return
	}
	x.abort()
}

// responseBody hands the stream back when the body ends. Like the bodies
// of http.Transport it is read by one goroutine at a time.
type responseBody struct {
	x    *exchange
	body io.ReadCloser
	eof  bool
}

var errBodyClosed = errors.New("read on a closed response body")

func (b *responseBody) Read(p []byte) (int, error) {
	if b.eof {
		return 0, io.EOF
	}
	if b.x.done {
		return 0, errBodyClosed
	}
	n, err := b.body.Read(p)
	if err != nil {
		if err == io.EOF {
			b.eof = true
			b.x.finish(true)
		} else {
			if ctx := b.x.req.Context(); ctx.Err() != nil {
				err = ctx.Err()
			}
			b.x.finish(false)
		}
	}
	return n, err
}

func (b *responseBody) Close() error {
	b.x.finish(false)
	return nil
}

// upgradedBody is the stream after 101 Switching Protocols, read through
// what the head's reader buffered. ReverseProxy may close it while a copy
// still reads, so Close only aborts the stream and keeps the reader.
type upgradedBody struct {
	x    *exchange
	once sync.Once
}

func (b *upgradedBody) Read(p []byte) (int, error) { return b.x.br.Read(p) }

func (b *upgradedBody) Write(p []byte) (int, error) { return b.x.c.st.Write(p) }

func (b *upgradedBody) Close() error {
	b.once.Do(func() {
		b.x.stop()
		b.x.abort()
	})
	return nil
}

// idempotent reports whether a request without a body may be sent again
// after its stream ended before any answer.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

func expectsContinue(req *http.Request) bool {
	for _, v := range req.Header["Expect"] {
		if strings.EqualFold(textproto.TrimString(v), "100-continue") {
			return true
		}
	}
	return false
}

// continueGate holds a request body back until the agent asks for it with
// 100 Continue, answers without it, or continueTimeout passes.
type continueGate struct {
	once sync.Once
	ch   chan struct{}
	send bool // written before ch closes
}

func newContinueGate() *continueGate { return &continueGate{ch: make(chan struct{})} }

func (g *continueGate) open(send bool) {
	g.once.Do(func() {
		g.send = send
		close(g.ch)
	})
}

// wait reports whether the body should be sent.
func (g *continueGate) wait() bool {
	t := time.NewTimer(continueTimeout)
	defer t.Stop()
	select {
	case <-g.ch:
	case <-t.C:
		g.open(true)
		<-g.ch
	}
	return g.send
}

type gatedBody struct {
	io.ReadCloser
	gate   *continueGate
	passed bool
}

func (b *gatedBody) Read(p []byte) (int, error) {
	if !b.passed {
		if !b.gate.wait() {
			return 0, errBodySkipped
		}
		b.passed = true
	}
	return b.ReadCloser.Read(p)
}
