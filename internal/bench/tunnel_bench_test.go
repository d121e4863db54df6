package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"

	"github.com/wsp-tunnel/wsp/agent"
	"github.com/wsp-tunnel/wsp/internal/config"
	"github.com/wsp-tunnel/wsp/internal/demoapi"
	v2 "github.com/wsp-tunnel/wsp/internal/v2"
	"github.com/wsp-tunnel/wsp/internal/wsconn"
	"github.com/wsp-tunnel/wsp/server"
)

// The in-process benchmarks label the goroutines of each role (pprof label
// "role": api, server, agent, client), so that a CPU profile of one run
// splits by role: go tool pprof -tagfocus role=server cpu.out

// withRole runs f with the pprof label role=name; goroutines f starts
// inherit the label.
func withRole(name string, f func(ctx context.Context)) {
	pprof.Do(context.Background(), pprof.Labels("role", name), f)
}

// inProcess is a sample API and, unless direct, a server and an agent of
// one protocol, all in this process on loopback.
type inProcess struct {
	addr    string // where clients connect
	request []byte // small GET /hello along the path
	post    []byte // small POST /echo along the path
}

func startInProcess(b *testing.B, proto string) *inProcess {
	b.Helper()
	var api *httptest.Server
	withRole("api", func(context.Context) { api = httptest.NewServer(demoapi.Handler()) })
	b.Cleanup(api.Close)
	apiAddr := api.Listener.Addr().String()
	if proto == PathDirect {
		return &inProcess{addr: apiAddr, request: getRequest(apiAddr, "/hello", ""), post: postRequest(apiAddr, "/echo", "")}
	}
	core, err := server.New(config.DefaultServer(), nil)
	if err != nil {
		b.Fatal(err)
	}
	var pub *httptest.Server
	withRole("server", func(context.Context) { pub = httptest.NewServer(core) })
	b.Cleanup(func() { pub.Close(); core.Close() })

	acfg := config.DefaultAgent()
	acfg.ID = "bench-" + proto
	acfg.Protocol = proto
	acfg.Targets = []string{"ws" + strings.TrimPrefix(pub.URL, "http") + "/register"}
	a, err := agent.New(acfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	withRole("agent", func(context.Context) {
		go func() { defer close(done); a.Run(ctx) }()
	})
	b.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := core.WaitForAgent(wctx, acfg.ID); err != nil {
		b.Fatal(err)
	}
	srvAddr := pub.Listener.Addr().String()
	return &inProcess{addr: srvAddr, request: getRequest(srvAddr, "/request", "http://"+apiAddr+"/hello"),
		post: postRequest(srvAddr, "/request", "http://"+apiAddr+"/echo")}
}

// BenchmarkTunnelGet is a small GET directly and through an in-process
// tunnel, at concurrency 1 and 64 (one keep-alive connection per
// goroutine). ns/op is wall time per request over all goroutines;
// allocs/op counts every role (API, server, agent, client).
func BenchmarkTunnelGet(b *testing.B) {
	for _, proto := range []string{PathDirect, PathV2, PathV1} {
		for _, c := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/c=%d", proto, c), func(b *testing.B) {
				p := startInProcess(b, proto)
				benchRequests(b, p.addr, p.request, c)
			})
		}
	}
}

// BenchmarkTunnelPost is BenchmarkTunnelGet with a small POST (a 16-byte
// body echoed back): a request the server may not send twice.
func BenchmarkTunnelPost(b *testing.B) {
	for _, proto := range []string{PathDirect, PathV2} {
		for _, c := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/c=%d", proto, c), func(b *testing.B) {
				p := startInProcess(b, proto)
				benchRequests(b, p.addr, p.post, c)
			})
		}
	}
}

// postRequest is a POST of a 16-byte body, like getRequest.
func postRequest(host, path, destination string) []byte {
	get := string(getRequest(host, path, destination))
	const body = "0123456789abcdef"
	return []byte("POST" + strings.TrimPrefix(strings.TrimSuffix(get, "\r\n"), "GET") +
		fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body))
}

// benchRequests sends request over c keep-alive connections to addr.
func benchRequests(b *testing.B, addr string, request []byte, c int) {
	// warm the path (streams, pooled connections) before the clock runs
	if _, err := RunLoad(context.Background(), Load{Addr: addr, Request: request, Concurrency: c, MaxRequests: int64(4 * c)}); err != nil {
		b.Fatal(err)
	}
	get := func(conn *Conn) bool {
		status, keep, err := conn.Do(request)
		if err != nil || status != http.StatusOK || !keep {
			b.Errorf("status %d keep %v: %v", status, keep, err)
			return false
		}
		return true
	}
	dial := func() *Conn {
		pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("role", "client")))
		conn, err := dialConn(addr, dialTimeout)
		if err != nil {
			b.Error(err)
		}
		return conn
	}
	b.ReportAllocs()
	if c == 1 {
		conn := dial()
		if conn == nil {
			return
		}
		defer conn.Close()
		defer pprof.SetGoroutineLabels(context.Background())
		for b.Loop() {
			if !get(conn) {
				return
			}
		}
		return
	}
	b.SetParallelism((c + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		conn := dial()
		if conn == nil {
			return
		}
		defer conn.Close()
		for pb.Next() {
			if !get(conn) {
				return
			}
		}
	})
}

// BenchmarkStreamRoundTrip opens a yamux stream over wsconn over a real
// WebSocket on loopback (the v2 stack without HTTP), sends 64 bytes, reads
// them echoed and closes the stream: the cost of a fresh stream.
func BenchmarkStreamRoundTrip(b *testing.B) {
	mux := v2Pair(b, 0, echo64)
	msg := make([]byte, 64)
	buf := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		st, err := mux.OpenStream()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(st, buf); err != nil {
			b.Fatal(err)
		}
		st.Close()
	}
}

// streamBytes is what BenchmarkStreamDownload moves per stream.
const streamBytes = 32 << 20

// BenchmarkStreamDownload moves 32 MiB from the agent's side to the
// server's side of one stream, over the v2 stack without HTTP, with yamux's
// default window (256 KiB, what internal/v2 uses) and larger ones granted
// by the receiving side. MB/s is the figure.
func BenchmarkStreamDownload(b *testing.B) {
	for _, window := range []uint32{256 << 10, 1 << 20, 4 << 20, 16 << 20} {
		b.Run(fmt.Sprintf("window=%dKiB", window>>10), func(b *testing.B) {
			mux := v2Pair(b, window, sendBytes)
			buf := make([]byte, 32<<10)
			b.SetBytes(streamBytes)
			b.ReportAllocs()
			for b.Loop() {
				st, err := mux.OpenStream()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := st.Write([]byte{1}); err != nil {
					b.Fatal(err)
				}
				n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{st}, buf)
				if err != nil || n != streamBytes {
					b.Fatalf("read %d bytes: %v", n, err)
				}
				st.Close()
			}
		})
	}
}

// v2Pair connects a yamux client (the server's role) to a yamux server
// (the agent's role) that hands every stream to serve, over wsconn and
// gorilla websocket on loopback. window, if not 0, is the client's
// MaxStreamWindowSize.
func v2Pair(b *testing.B, window uint32, serve func(net.Conn)) *yamux.Session {
	up := websocket.Upgrader{ReadBufferSize: 32 << 10, WriteBufferSize: 64 << 10}
	accepted := make(chan *yamux.Session, 1)
	var wg sync.WaitGroup
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		sess, err := yamux.Server(wsconn.New(ws, wsconn.Config{}), v2.MuxConfig(time.Minute, 1024, quietLog))
		if err != nil {
			return
		}
		accepted <- sess
		for {
			st, err := sess.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); serve(st) }()
		}
	}))
	d := websocket.Dialer{ReadBufferSize: 32 << 10, WriteBufferSize: 64 << 10}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	conn := wsconn.New(ws, wsconn.Config{})
	cfg := v2.MuxConfig(time.Minute, 1024, quietLog)
	if window != 0 {
		cfg.MaxStreamWindowSize = window
	}
	mux, err := yamux.Client(conn, cfg)
	if err != nil {
		b.Fatal(err)
	}
	agentSide := <-accepted
	b.Cleanup(func() {
		mux.Close()
		conn.Close()
		agentSide.Close()
		hs.Close()
		wg.Wait()
	})
	return mux
}

// echo64 answers one 64-byte message on a stream.
func echo64(st net.Conn) {
	defer st.Close()
	buf := make([]byte, 64)
	if _, err := io.ReadFull(st, buf); err == nil {
		st.Write(buf)
	}
}

// sendBytes waits for one byte, then writes streamBytes of the pattern.
func sendBytes(st net.Conn) {
	defer st.Close()
	if _, err := st.Read(make([]byte, 1)); err != nil {
		return
	}
	chunk := pattern[:copyChunk]
	for sent := 0; sent < streamBytes; sent += len(chunk) {
		if _, err := st.Write(chunk); err != nil {
			return
		}
	}
}
