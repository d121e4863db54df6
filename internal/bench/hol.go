package bench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// holDownload is the size requested by the slow reader: far more than it
// will read before the cell ends and it hangs up.
const holDownload = 1 << 30

// slowTick is how often the slow reader takes its share of bytes.
const slowTick = 50 * time.Millisecond

// slowReader downloads through a path at a fixed rate, with a small
// socket receive buffer, so that every buffer along the path fills up and
// stays full, as behind a slow client.
type slowReader struct {
	read atomic.Int64 // body and head bytes read so far
	done chan error
}

// startSlowReader starts the download; it ends when ctx does.
func startSlowReader(ctx context.Context, t *target, rate int64) (*slowReader, error) {
	d := net.Dialer{Timeout: dialTimeout, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, int(min(rate, 64<<10)))
		})
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(t.request(fmt.Sprintf("/bytes?n=%d", holDownload))); err != nil {
		conn.Close()
		return nil, err
	}
	s := &slowReader{done: make(chan error, 1)}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	go func() {
		defer stop()
		defer conn.Close()
		s.done <- s.loop(ctx, conn, rate)
	}()
	return s, nil
}

func (s *slowReader) loop(ctx context.Context, conn net.Conn, rate int64) error {
	share := max(int(rate*int64(slowTick)/int64(time.Second)), 1)
	buf := make([]byte, share)
	tick := time.NewTicker(slowTick)
	defer tick.Stop()
	first := true
	for {
		n, err := readFull(conn, buf)
		s.read.Add(int64(n))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("slow download: %w", err)
		}
		if first && !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 200 ")) {
			return fmt.Errorf("slow download: answer %q", buf[:min(n, 40)])
		}
		first = false
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil
		}
	}
}

// readFull reads len(p) bytes, as io.ReadFull does.
func readFull(c net.Conn, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := c.Read(p[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// wait ends the download's goroutine (ctx must be done) and returns why
// it failed, if it did before ctx ended.
func (s *slowReader) wait() error { return <-s.done }
