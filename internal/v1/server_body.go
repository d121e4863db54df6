package v1

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

var errBodyClosed = errors.New("v1: read on closed response body")

// respBody streams the agent's body message to the caller of RoundTrip.
// It checks the length: a body shorter than its Content-Length, or cut by
// a broken connection, fails with an error wrapping io.ErrUnexpectedEOF
// (never a clean EOF); a longer one fails too.
type respBody struct {
	// static after construction
	ex    *exchange
	ch    chan message // delivers the body message
	limit int64        // exact body length when >= 0

	eof    atomic.Bool // read to a clean end
	closed atomic.Bool

	mu  sync.Mutex  // serialises Read
	m   *message    // guarded by mu; nil until the first Read
	lr  exactReader // guarded by mu
	err error       // guarded by mu: sticky
}

func (b *respBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() && b.err == nil {
		b.err = errBodyClosed
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.m == nil {
		if err := b.open(); err != nil {
			return 0, b.fail(err)
		}
	}
	n, err := b.lr.Read(p)
	switch {
	case err == io.EOF:
		b.err = io.EOF
		b.eof.Store(true)
		b.m.finish()
	case err != nil:
		err = b.fail(err)
	}
	return n, err
}

func (b *respBody) open() error {
	c := b.ex.sc.c
	m, err := c.receive(b.ex.ctx, b.ch)
	if err != nil {
		return fmt.Errorf("%w (no response body message)", err)
	}
	b.m = &m
	b.lr = exactReader{r: m.r, limit: b.limit}
	if m.typ != websocket.BinaryMessage {
		return brokenf("response body is not a binary message", nil)
	}
	return nil
}

// fail records err (wrapped so that callers see ErrConnBroken and, for a
// body cut short, io.ErrUnexpectedEOF) and closes the connection.
func (b *respBody) fail(err error) error {
	if !errors.Is(err, errTooLong) && !errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("%w: %w", io.ErrUnexpectedEOF, err)
	}
	if !errors.Is(err, ErrConnBroken) {
		err = fmt.Errorf("%w: response body: %w", ErrConnBroken, err)
	}
	if ctxErr := b.ex.ctx.Err(); ctxErr != nil {
		err = fmt.Errorf("%w: %w", ctxErr, err)
	}
	b.err = err
	b.ex.sc.c.shutdown(websocket.CloseGoingAway, err)
	return err
}

// Close ends the body. Before a clean EOF it closes the connection (which
// also unblocks a concurrent Read); the exchange then cannot end cleanly.
func (b *respBody) Close() error {
	b.closed.Store(true)
	if !b.eof.Load() {
		b.ex.sc.c.shutdown(websocket.CloseGoingAway, brokenf("response body closed before its end", nil))
	}
	return nil
}
