package e2e

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsp-tunnel/wsp/internal/config"
	"github.com/wsp-tunnel/wsp/server"
)

// TestLimitListenerTimeouts runs the real wsp_server with small listener
// limits and checks each against a misbehaving client: headers sent byte by
// byte (slowloris) are cut off after readheadertimeout, an idle keep-alive
// connection is closed after idleconntimeout, and a head over maxheaderbytes
// (plus net/http's 4 KiB of slack) gets 431.
func TestLimitListenerTimeouts(t *testing.T) {
	const readHeader, idle = 500 * time.Millisecond, 800 * time.Millisecond
	port := freePort(t)
	startProc(t, "wsp_server", serverYAML(port)+fmt.Sprintf("readheadertimeout: %d\nidleconntimeout: %d\nmaxheaderbytes: 4096\n", readHeader.Milliseconds(), idle.Milliseconds()))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitListening(t, addr)

	t.Run("slowloris", func(t *testing.T) {
		conn := dialTCP(t, addr)
		start := time.Now()
		io.WriteString(conn, "GET /request HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		stop := make(chan struct{})
		defer close(stop)
		go func() { // one byte every 50 ms: never idle, never done
			for range 200 {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if _, err := conn.Write([]byte("a")); err != nil {
					return
				}
			}
		}()
		d := waitClosed(t, conn, start)
		t.Logf("slowloris cut off after %v (readheadertimeout %v)", d.Round(time.Millisecond), readHeader)
		if d < readHeader-100*time.Millisecond || d > readHeader+time.Second {
			t.Errorf("cut off after %v, want about %v", d, readHeader)
		}
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		conn := dialTCP(t, addr)
		io.WriteString(conn, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("status: %v %v", resp, err)
		}
		resp.Body.Close()
		start := time.Now()
		d := waitClosed(t, conn, start)
		t.Logf("idle connection closed after %v (idleconntimeout %v)", d.Round(time.Millisecond), idle)
		if d < idle-100*time.Millisecond || d > idle+time.Second {
			t.Errorf("closed after %v, want about %v", d, idle)
		}
	})
	t.Run("header bytes", func(t *testing.T) {
		for _, tc := range []struct{ size, want int }{{2 << 10, 200}, {16 << 10, 431}} {
			req, _ := http.NewRequest("GET", "http://"+addr+"/status", nil)
			req.Header.Set("X-Pad", strings.Repeat("p", tc.size))
			resp := do(t, req)
			readAll(t, resp)
			if resp.StatusCode != tc.want {
				t.Errorf("%d-byte header: got %d, want %d", tc.size, resp.StatusCode, tc.want)
			}
		}
	})
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitListening waits until addr accepts TCP connections.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitClosed reads conn until the peer closes it (at most 5 s) and returns
// how long after start that happened. Bytes received are discarded.
func waitClosed(t *testing.T, conn net.Conn, start time.Time) time.Duration {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server did not close the connection within 5 s")
	}
	return time.Since(start)
}

// startServerOnly runs a server core in process with no agent.
func startServerOnly(t *testing.T, mod func(*config.Server)) (*server.Server, *httptest.Server) {
	t.Helper()
	cfg := config.DefaultServer()
	if mod != nil {
		mod(&cfg)
	}
	core, err := server.New(cfg, testLogger(t).With("role", "server"))
	if err != nil {
		t.Fatal(err)
	}
	pub := httptest.NewServer(core)
	t.Cleanup(func() { pub.Close(); core.Close() })
	return core, pub
}

// writeFrameHeader writes the head of a masked (client) WebSocket frame
// announcing size payload bytes, with a zero mask so that the payload that
// follows can be written as is.
func writeFrameHeader(w io.Writer, opcode byte, size uint64) error {
	hdr := []byte{0x80 | opcode, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(hdr[2:10], size)
	_, err := w.Write(hdr)
	return err
}

// allocatedSince reports the bytes allocated by the whole process since
// before, which the caller read with runtime.ReadMemStats.
func allocatedSince(before *runtime.MemStats) uint64 {
	var now runtime.MemStats
	runtime.ReadMemStats(&now)
	return now.TotalAlloc - before.TotalAlloc
}

// TestLimitWebSocketReadLimits: an agent's WebSocket announcing a huge
// frame cannot make the server allocate it. A v2 frame over the 4 MiB
// message limit is refused (close 1009) from its header; a v1 greeting over
// 512 bytes likewise; a v1 response head is read at most 1 MiB deep, then
// the exchange fails with 502 and the connection is closed.
func TestLimitWebSocketReadLimits(t *testing.T) {
	const announced = 1 << 40
	const allocBound = 32 << 20
	t.Run("v2 frame", func(t *testing.T) {
		_, pub := startServerOnly(t, nil)
		h := http.Header{}
		h.Set("X-Wsp-Agent-Id", "huge-frame")
		ws := dialRaw(t, pub, h, "wsp.v2")
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		writeFrameHeader(ws.NetConn(), websocket.BinaryMessage, announced)
		ws.NetConn().Write(make([]byte, 64<<10))
		checkClosedTooBig(t, ws)
		if n := allocatedSince(&before); n > allocBound {
			t.Errorf("the server allocated %d bytes for a frame announcing %d", n, uint64(announced))
		}
	})
	t.Run("v1 greeting", func(t *testing.T) {
		core, pub := startServerOnly(t, nil)
		ws := dialRaw(t, pub, http.Header{})
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		writeFrameHeader(ws.NetConn(), websocket.TextMessage, announced)
		ws.NetConn().Write([]byte(strings.Repeat("g", 64<<10)))
		checkClosedTooBig(t, ws)
		if n := allocatedSince(&before); n > allocBound {
			t.Errorf("the server allocated %d bytes for a greeting announcing %d", n, uint64(announced))
		}
		if a := core.Agents(); len(a) != 0 {
			t.Errorf("agents %+v registered", a)
		}
	})
	t.Run("v1 response head", func(t *testing.T) { checkHugeV1Head(t, announced, allocBound) })
}

func dialRaw(t *testing.T, pub *httptest.Server, h http.Header, subprotocols ...string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: subprotocols, HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(pub.URL, "http")+"/register", h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// checkClosedTooBig waits for the server to close ws, with 1009 when it
// sent a close frame before closing.
func checkClosedTooBig(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the server kept reading a frame larger than its limit")
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code != websocket.CloseMessageTooBig {
			t.Errorf("closed with %v, want 1009 (message too big)", ce)
		}
		return
	}
}

// checkHugeV1Head plays a v1 agent that answers a request with a head
// message announcing size bytes, and streams 2 MiB of it.
func checkHugeV1Head(t *testing.T, size uint64, allocBound uint64) {
	core, pub := startServerOnly(t, func(c *config.Server) { c.Timeout = 5 * time.Second })
	ws := dialRaw(t, pub, http.Header{})
	if err := ws.WriteMessage(websocket.TextMessage, []byte("huge-head_1")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(core.Agents()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	status := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", pub.URL+"/request", nil)
		req.Header.Set("X-PROXY-DESTINATION", "http://127.0.0.1:9/x")
		resp, err := client.Do(req)
		if err != nil {
			status <- -1
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	for range 2 { // the request's head and body messages
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, r, err := ws.NextReader(); err != nil {
			t.Fatalf("v1 request: %v", err)
		} else {
			io.Copy(io.Discard, r)
		}
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	nc := ws.NetConn()
	writeFrameHeader(nc, websocket.TextMessage, size)
	io.WriteString(nc, `{"StatusCode":200,"Header":{"A":["`)
	pad := []byte(strings.Repeat("a", 64<<10))
	for range 32 {
		nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if _, err := nc.Write(pad); err != nil {
			break // the server closed the connection
		}
	}
	select {
	case s := <-status:
		if s != http.StatusBadGateway {
			t.Errorf("application got %d, want 502", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the application got no answer")
	}
	if n := allocatedSince(&before); n > allocBound {
		t.Errorf("the server allocated %d bytes for a head announcing %d", n, size)
	}
}
