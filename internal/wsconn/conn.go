package wsconn

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults for Config.
const (
	DefaultMaxPending = 1 << 20 // bytes queued before Write blocks
	DefaultMaxMessage = 1 << 20 // largest message this side writes
)

// ErrClosed is returned by Read and Write after Close.
var ErrClosed = errors.New("wsconn: connection closed")

// Config tunes a Conn. Zero values mean the defaults above.
type Config struct {
	MaxPending int // bytes Write may queue before it blocks
	MaxMessage int // largest WebSocket message written
}

// Conn is a net.Conn over a WebSocket. One goroutine may Read while any
// number Write; a single writer goroutine owns the WebSocket's write side.
type Conn struct {
	// static after construction
	ws         *websocket.Conn
	maxPending int
	maxMessage int

	// owned by the reader (net.Conn allows one concurrent reader)
	cur io.Reader

	// guarded by mu
	mu      sync.Mutex
	cond    *sync.Cond // signalled when pending shrinks or the conn fails
	pending []byte
	spare   []byte
	err     error // first fatal error; sticky

	kick      chan struct{} // wakes the writer, capacity 1
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New wraps ws. The Conn owns ws from now on: Close closes it.
func New(ws *websocket.Conn, cfg Config) *Conn {
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = DefaultMaxMessage
	}
	c := &Conn{
		ws:         ws,
		maxPending: cfg.MaxPending,
		maxMessage: cfg.MaxMessage,
		kick:       make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
	c.cond = sync.NewCond(&c.mu)
	c.wg.Add(1)
	go c.writeLoop()
	return c
}

// Read reads stream bytes from the current message, moving to the next
// message when it ends. A text message is a protocol error.
func (c *Conn) Read(p []byte) (int, error) {
	for {
		if c.cur == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, c.fail(fmt.Errorf("wsconn: read: %w", err))
			}
			if typ != websocket.BinaryMessage {
				return 0, c.fail(errors.New("wsconn: read: unexpected text message"))
			}
			c.cur = r
		}
		n, err := c.cur.Read(p)
		if err == io.EOF {
			c.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			return n, c.fail(fmt.Errorf("wsconn: read: %w", err))
		}
		return n, nil
	}
}

// Write queues p for the writer goroutine. It blocks while more than
// MaxPending bytes are queued, and fails once the connection has failed.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && len(c.pending) > 0 && len(c.pending)+len(p) > c.maxPending {
		c.cond.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	c.pending = append(c.pending, p...)
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (c *Conn) writeLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		buf := c.takePending()
		for rest := buf; len(rest) > 0; {
			n := min(len(rest), c.maxMessage)
			if err := c.ws.WriteMessage(websocket.BinaryMessage, rest[:n]); err != nil {
				c.fail(fmt.Errorf("wsconn: write: %w", err))
				return
			}
			rest = rest[n:]
		}
		c.giveBack(buf[:0])
	}
}

// takePending swaps the pending buffer for the spare one.
func (c *Conn) takePending() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	buf := c.pending
	c.pending = c.spare[:0]
	c.spare = nil
	c.cond.Broadcast()
	return buf
}

func (c *Conn) giveBack(buf []byte) {
	c.mu.Lock()
	if cap(buf) <= 2*c.maxPending {
		c.spare = buf
	}
	c.mu.Unlock()
}

// fail records the first fatal error and wakes blocked writers.
func (c *Conn) fail(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		c.cond.Broadcast()
	}
	return c.err
}

// Close closes the WebSocket and waits for the writer goroutine. It is
// idempotent.
func (c *Conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.fail(ErrClosed)
		close(c.done)
		err = c.ws.Close()
		c.wg.Wait()
	})
	return err
}

// Err returns the first fatal error, or nil while the connection is healthy.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// LocalAddr returns the WebSocket's local address.
func (c *Conn) LocalAddr() net.Addr { return c.ws.LocalAddr() }

// RemoteAddr returns the WebSocket's remote address.
func (c *Conn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

// SetDeadline sets the read deadline; writes are bounded by the writer.
func (c *Conn) SetDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

// SetReadDeadline sets the WebSocket's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

// SetWriteDeadline is accepted for net.Conn; queued writes are not bounded.
func (c *Conn) SetWriteDeadline(time.Time) error { return nil }
