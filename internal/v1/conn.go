package v1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// closeWait bounds how long shutdown waits to send a close frame (a writer
// stuck on a full TCP buffer holds gorilla's write lock).
const closeWait = 200 * time.Millisecond

// errLocalClose is the cause recorded when this side closes a connection on
// purpose (Close, pool shutdown, idle reaping).
var errLocalClose = errors.New("v1: connection closed locally")

// message is one data message handed from the read loop to its consumer.
// The read loop waits for finish before it reads the next message, so at
// any time exactly one goroutine reads the WebSocket.
type message struct {
	typ  int
	r    io.Reader
	once *sync.Once
	done chan struct{}
}

// finish tells the read loop that the consumer is done with m.r.
func (m message) finish() { m.once.Do(func() { close(m.done) }) }

// conn wraps one v1 WebSocket for both roles: it owns the read loop, the
// keep-alive loop and the closing of the connection.
//
// Reads: the read loop always has a read outstanding (so pings are
// answered and closes detected). A consumer announces that it expects the
// next message with expect(); a message nobody expects is unsolicited and
// closes the connection. Writes: one exchange writes at a time (the roles
// ensure it); pings and close frames use WriteControl, which gorilla allows
// concurrently with the writer.
type conn struct {
	// static after construction
	ws      *websocket.Conn
	log     *slog.Logger
	ping    time.Duration // 0: no keep-alive
	onClose func()        // called once after shutdown, without locks held

	// closing
	closeOnce sync.Once
	closing   chan struct{} // closed by shutdown
	cause     error         // first fatal error; written before closing is closed
	wg        sync.WaitGroup

	// liveness, atomic
	lastSeen atomic.Int64 // unix nanoseconds of the last message or pong
	busy     atomic.Bool  // an exchange is in progress: no ping timeout

	mu    sync.Mutex
	armed chan message // guarded by mu; non-nil while a consumer expects a message
}

func newConn(ws *websocket.Conn, log *slog.Logger, ping time.Duration, onClose func()) *conn {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &conn{ws: ws, log: log, ping: ping, onClose: onClose, closing: make(chan struct{})}
	c.touch()
	ws.SetPongHandler(func(string) error { c.touch(); return nil })
	return c
}

// start launches the read loop and, when enabled, the keep-alive loop.
func (c *conn) start() {
	c.wg.Add(1)
	go c.readLoop()
	if c.ping > 0 {
		c.wg.Add(1)
		go c.keepAlive()
	}
}

func (c *conn) touch() { c.lastSeen.Store(time.Now().UnixNano()) }

// setBusy marks the start or the end of an exchange. Ending one counts as
// activity, so the ping timeout starts afresh.
func (c *conn) setBusy(b bool) {
	c.touch()
	c.busy.Store(b)
}

// expect arms the read loop for one more message and returns the channel
// it will be delivered on. Arm before the peer can possibly send it.
func (c *conn) expect() chan message {
	ch := make(chan message, 1)
	c.mu.Lock()
	c.armed = ch
	c.mu.Unlock()
	return ch
}

func (c *conn) takeArmed() chan message {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := c.armed
	c.armed = nil
	return ch
}

// receive waits for the message expected on ch.
func (c *conn) receive(ctx context.Context, ch chan message) (message, error) {
	select {
	case m := <-ch:
		return m, nil
	case <-c.closing:
		return message{}, c.err()
	case <-ctx.Done():
		return message{}, ctx.Err()
	}
}

func (c *conn) readLoop() {
	defer c.wg.Done()
	for {
		typ, r, err := c.ws.NextReader()
		if err != nil {
			c.shutdown(websocket.CloseNormalClosure, brokenf("read", err))
			return
		}
		c.touch()
		ch := c.takeArmed()
		if ch == nil { // logged by shutdown
			c.shutdown(websocket.CloseProtocolError, brokenf(fmt.Sprintf("unsolicited message (opcode %d)", typ), nil))
			return
		}
		m := message{typ: typ, r: r, once: new(sync.Once), done: make(chan struct{})}
		ch <- m
		select {
		case <-m.done:
		case <-c.closing:
			return
		}
	}
}

func (c *conn) keepAlive() {
	defer c.wg.Done()
	t := time.NewTicker(c.ping)
	defer t.Stop()
	for {
		select {
		case <-c.closing:
			return
		case <-t.C:
		}
		if !c.busy.Load() && time.Since(time.Unix(0, c.lastSeen.Load())) > 2*c.ping {
			c.shutdown(websocket.CloseGoingAway, brokenf("no pong within twice the ping interval", nil))
			return
		}
		err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.ping))
		if err != nil && !c.busy.Load() {
			c.shutdown(websocket.CloseGoingAway, brokenf("ping", err))
			return
		}
	}
}

// shutdown closes the connection once: it records cause, sends a close
// frame when it can, closes the TCP connection and calls onClose. It does
// not wait for the goroutines (it may run on one of them).
func (c *conn) shutdown(code int, cause error) {
	c.closeOnce.Do(func() {
		c.cause = cause
		close(c.closing)
		c.logClose(cause)
		msg := websocket.FormatCloseMessage(code, "")
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeWait))
		_ = c.ws.Close()
		if c.onClose != nil {
			c.onClose()
		}
	})
}

func (c *conn) logClose(cause error) {
	switch {
	case errors.Is(cause, errLocalClose):
		c.log.Debug("v1: connection closed", "reason", cause)
	case isNormalClose(cause):
		c.log.Debug("v1: connection closed by the peer")
	default:
		c.log.Info("v1: connection closed", "reason", cause)
	}
}

func isNormalClose(err error) bool {
	var ce *websocket.CloseError
	return errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway)
}

// close shuts the connection down and waits for its goroutines. It must not
// be called from them.
func (c *conn) close(cause error) {
	c.shutdown(websocket.CloseNormalClosure, cause)
	c.wg.Wait()
}

// closed reports whether shutdown has run.
func (c *conn) closed() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// err returns the cause of the shutdown as an error wrapping ErrConnBroken.
func (c *conn) err() error {
	<-c.closing
	if errors.Is(c.cause, ErrConnBroken) {
		return c.cause
	}
	return brokenf("connection closed", c.cause)
}
