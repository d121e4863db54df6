package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// ownClient returns a client with its own connections, closed at cleanup.
func ownClient(t testing.TB, mod func(*http.Transport)) *http.Client {
	tr := &http.Transport{DisableCompression: true, MaxConnsPerHost: 64}
	if mod != nil {
		mod(tr)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// trailerBody sets a request trailer when its body reaches EOF, as a
// client computing a checksum while streaming would.
type trailerBody struct {
	r       io.Reader
	trailer http.Header
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.trailer.Set("X-Req-Sum", "req-sum")
	}
	return n, err
}

// TestConformanceTrailers: request and response trailers, declared and
// undeclared (http.TrailerPrefix), arrive after the body. v1 has no
// trailers: its subtest checks that the body still arrives intact and that
// no trailer does.
func TestConformanceTrailers(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		rc := newRecorder(func(w http.ResponseWriter, r *http.Request, rec *record) {
			rec.readBody(r)
			w.Header().Set("Trailer", "X-Sum")
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "body before trailers")
			w.(http.Flusher).Flush()
			w.Header().Set("X-Sum", "resp-sum")
			w.Header().Set(http.TrailerPrefix+"X-Late", "late")
		})
		tn := startTunnel(t, options{protocol: proto, api: rc})
		req := tn.request("POST", "/trailers", nil)
		req.Trailer = http.Header{"X-Req-Sum": nil}
		req.Body = io.NopCloser(&trailerBody{r: strings.NewReader("request body"), trailer: req.Trailer})
		req.ContentLength = -1
		resp := do(t, req)
		if body := readAll(t, resp); body != "body before trailers" {
			t.Fatalf("body %q", body)
		}
		rec := rc.next(t, time.Second)
		n, _, err := rec.Body()
		if n != int64(len("request body")) || err != nil {
			t.Fatalf("backend body: %d bytes, %v", n, err)
		}
		gotReq := rec.Trailer().Get("X-Req-Sum")
		gotResp, gotLate := resp.Trailer.Get("X-Sum"), resp.Trailer.Get("X-Late")
		if proto == "v1" {
			if gotReq != "" || gotResp != "" || gotLate != "" {
				t.Fatalf("v1 carried trailers (%q %q %q): update the compatibility table", gotReq, gotResp, gotLate)
			}
			return
		}
		if gotReq != "req-sum" {
			t.Errorf("backend request trailer %q, want req-sum (trailers %v)", gotReq, rec.Trailer())
		}
		if gotResp != "resp-sum" || gotLate != "late" {
			t.Errorf("application trailers %v, want X-Sum resp-sum and X-Late late", resp.Trailer)
		}
	})
}

// readCounter reports whether its body was read at all.
type readCounter struct {
	r    io.Reader
	read atomic.Bool
}

func (c *readCounter) Read(p []byte) (int, error) {
	c.read.Store(true)
	return c.r.Read(p)
}

// TestConformanceExpectContinue: a request with Expect: 100-continue gets
// its 100 and its body through; a backend that refuses it without reading
// the body answers the application before the application sends it (v2).
// Over v1 the server cannot relay the backend's decision: it answers 100
// itself, so the body is sent and then dropped.
func TestConformanceExpectContinue(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		rc := newRecorder(func(w http.ResponseWriter, r *http.Request, rec *record) {
			if r.URL.Path == "/refuse" {
				http.Error(w, "too large", http.StatusRequestEntityTooLarge)
				return
			}
			rec.readBody(r)
			io.WriteString(w, "accepted")
		})
		tn := startTunnel(t, options{protocol: proto, api: rc})
		const wait = 10 * time.Second // the client's wait for a 100 before it sends anyway
		c := ownClient(t, func(tr *http.Transport) { tr.ExpectContinueTimeout = wait })

		body := bytes.Repeat([]byte("x"), 1<<20)
		req := tn.request("POST", "/accept", bytes.NewReader(body))
		req.Header.Set("Expect", "100-continue")
		var got100 atomic.Bool
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{Got100Continue: func() { got100.Store(true) }}))
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if b := readAll(t, resp); resp.StatusCode != 200 || b != "accepted" {
			t.Fatalf("accept: got %d %q", resp.StatusCode, b)
		}
		if d := time.Since(start); !got100.Load() || d > wait/2 {
			t.Errorf("accept: 100 Continue received %v, request took %v", got100.Load(), d)
		}
		rec := rc.next(t, time.Second)
		if n, _, err := rec.Body(); n != int64(len(body)) || err != nil {
			t.Errorf("accept: backend got %d bytes, %v", n, err)
		}
		if rec.Header.Get("Expect") != "100-continue" {
			t.Errorf("accept: backend saw Expect %q", rec.Header.Get("Expect"))
		}

		refused := &readCounter{r: bytes.NewReader(body)}
		req = tn.request("POST", "/refuse", refused)
		req.ContentLength = int64(len(body))
		req.Header.Set("Expect", "100-continue")
		start = time.Now()
		resp, err = c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		rc.next(t, time.Second)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || time.Since(start) > wait/2 {
			t.Fatalf("refuse: got %d after %v, want 413 at once", resp.StatusCode, time.Since(start))
		}
		if want := proto == "v1"; refused.read.Load() != want {
			t.Errorf("refuse: application body sent = %v, want %v", refused.read.Load(), want)
		}
	})
}

// TestConformanceEarlyHints: a 103 Early Hints with its Link header reaches
// the application before the final answer (v2). v1 carries no 1xx: its
// subtest checks that only the final answer arrives.
func TestConformanceEarlyHints(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		rc := newRecorder(func(w http.ResponseWriter, r *http.Request, rec *record) {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			time.Sleep(50 * time.Millisecond)
			w.Header().Del("Link")
			io.WriteString(w, "final")
		})
		tn := startTunnel(t, options{protocol: proto, api: rc})
		var mu sync.Mutex
		var hints []string
		req := tn.request("GET", "/hints", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				mu.Lock()
				defer mu.Unlock()
				hints = append(hints, fmt.Sprintf("%d %s", code, strings.Join(h["Link"], ",")))
				return nil
			},
		}))
		resp := do(t, req)
		if body := readAll(t, resp); resp.StatusCode != 200 || body != "final" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		mu.Lock()
		defer mu.Unlock()
		want := []string{"103 </style.css>; rel=preload; as=style"}
		if proto == "v1" {
			want = nil
		}
		if !slices.Equal(hints, want) {
			t.Errorf("informational answers %q, want %q", hints, want)
		}
	})
}

// TestConformanceNoBodyStatuses: HEAD, 204 and 304 answers carry no body,
// keep their headers, and leave the application's connection usable (a
// stray body byte would corrupt the next answer on it).
func TestConformanceNoBodyStatuses(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		rc := newRecorder(func(w http.ResponseWriter, r *http.Request, rec *record) {
			switch r.URL.Path {
			case "/head":
				w.Header().Set("Content-Length", "1234")
				w.Header().Set("X-Head", "yes")
			case "/204":
				w.Header().Set("X-No-Content", "yes")
				w.WriteHeader(http.StatusNoContent)
				w.Write([]byte("must not be sent"))
			case "/304":
				w.Header().Set("ETag", `"v1"`)
				w.WriteHeader(http.StatusNotModified)
				w.Write([]byte("must not be sent"))
			default:
				io.WriteString(w, "after")
			}
		})
		tn := startTunnel(t, options{protocol: proto, api: rc})
		c := ownClient(t, func(tr *http.Transport) { tr.MaxConnsPerHost = 1 })
		cases := []struct {
			method, path string
			status       int
			header       string
		}{
			{"HEAD", "/head", 200, "X-Head"},
			{"GET", "/204", 204, "X-No-Content"},
			{"GET", "/304", 304, "Etag"},
		}
		for _, tc := range cases {
			resp, err := c.Do(tn.request(tc.method, tc.path, nil))
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != tc.status || body != "" || resp.Header.Get(tc.header) == "" {
				t.Errorf("%s %s: got %d %q %v", tc.method, tc.path, resp.StatusCode, body, resp.Header)
			}
			if tc.method == "HEAD" && resp.Header.Get("Content-Length") != "1234" {
				t.Errorf("HEAD: Content-Length %q, want 1234", resp.Header.Get("Content-Length"))
			}
			var reused bool
			req := tn.request("GET", "/after", nil)
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}))
			resp, err = c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if body := readAll(t, resp); body != "after" || !reused {
				t.Errorf("after %s %s: got %q on a reused connection %v", tc.method, tc.path, body, reused)
			}
		}
	})
}

// TestConformanceSSEFlushedPerEvent: each server-sent event reaches the
// application before the backend sends the next one (the backend waits for
// the application's acknowledgement). v1 cannot flush part of a WebSocket
// message: its subtest checks that the events arrive intact and in order,
// and only once the backend has finished (or 64 KiB accumulated).
func TestConformanceSSEFlushedPerEvent(t *testing.T) {
	const events = 5
	forEachProtocol(t, func(t *testing.T, proto string) {
		acks := make(chan int)
		var finished atomic.Int64 // when the backend wrote its last event (unix ns)
		rc := newRecorder(func(w http.ResponseWriter, r *http.Request, rec *record) {
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range events {
				fmt.Fprintf(w, "id: %d\ndata: event %d\n\n", i, i)
				w.(http.Flusher).Flush()
				if proto == "v1" {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				select {
				case <-acks:
				case <-time.After(5 * time.Second):
					return // the test fails below: event i was not delivered
				}
			}
			finished.Store(time.Now().UnixNano())
		})
		tn := startTunnel(t, options{protocol: proto, api: rc})
		resp := do(t, tn.request("GET", "/events", nil))
		defer resp.Body.Close()
		got := make(chan string)
		go readEvents(resp.Body, got)
		for i := range events {
			select {
			case ev, ok := <-got:
				if want := fmt.Sprintf("id: %d\ndata: event %d\n", i, i); !ok || ev != want {
					t.Fatalf("event %d: got %q, want %q", i, ev, want)
				}
			case <-time.After(3 * time.Second):
				t.Fatalf("event %d was not delivered before the backend sent the next one: the stream is buffered", i)
			}
			if proto == "v1" {
				// The backend records when it finished before it returns,
				// and v1 sends the body message only after that.
				if done := finished.Load(); done == 0 || time.Now().UnixNano() < done {
					t.Fatalf("v1 delivered event %d before the backend finished: v1 flushes now, update the compatibility table", i)
				}
				continue
			}
			acks <- i
		}
	})
}

// readEvents sends each event (lines up to a blank line) read from r.
func readEvents(r io.Reader, out chan<- string) {
	defer close(out)
	br := bufio.NewReader(r)
	var ev strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if line == "\n" {
			out <- ev.String()
			ev.Reset()
			continue
		}
		ev.WriteString(line)
	}
}

// TestConformanceWebSocketPassthrough: an application opens a WebSocket to
// an internal service through /request and exchanges text, binary and close
// frames with it. v1 cannot carry an upgrade: its subtest checks that the
// handshake fails with a clear error status instead of hanging.
func TestConformanceWebSocketPassthrough(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		upgrader := websocket.Upgrader{}
		rc := newRecorder(func(w http.ResponseWriter, r *http.Request, rec *record) {
			ws, err := upgrader.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer ws.Close()
			for {
				typ, msg, err := ws.ReadMessage()
				if err != nil {
					return
				}
				if err := ws.WriteMessage(typ, msg); err != nil {
					return
				}
			}
		})
		tn := startTunnel(t, options{protocol: proto, api: rc})
		h := http.Header{}
		h.Set("X-PROXY-DESTINATION", tn.api.URL+"/ws")
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
		start := time.Now()
		ws, resp, err := d.Dial("ws"+strings.TrimPrefix(tn.pub.URL, "http")+"/request", h)
		if proto == "v1" {
			if err == nil {
				ws.Close()
				t.Fatal("v1 carried a WebSocket upgrade: update the compatibility table")
			}
			if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode < 500 || time.Since(start) > 5*time.Second {
				t.Fatalf("v1 upgrade: got %v %v after %v, want a 5xx answer at once", resp, err, time.Since(start))
			}
			t.Logf("v1 upgrade answered %s", resp.Status)
			return
		}
		if err != nil {
			t.Fatalf("dial through the tunnel: %v (%v)", err, resp)
		}
		defer ws.Close()
		if rec := rc.next(t, time.Second); !strings.EqualFold(rec.Header.Get("Upgrade"), "websocket") {
			t.Errorf("backend saw Upgrade %q", rec.Header.Get("Upgrade"))
		}
		big := make([]byte, 1<<20)
		data(7, int64(len(big))).Read(big)
		type message struct {
			typ int
			b   []byte
		}
		msgs := []message{{websocket.TextMessage, []byte("hello")}, {websocket.BinaryMessage, big}, {websocket.TextMessage, []byte("")}}
		for i := range 20 {
			msgs = append(msgs, message{websocket.TextMessage, []byte(fmt.Sprint("msg ", i))})
		}
		for _, m := range msgs {
			if err := ws.WriteMessage(m.typ, m.b); err != nil {
				t.Fatal(err)
			}
			typ, b, err := ws.ReadMessage()
			if err != nil || typ != m.typ || !bytes.Equal(b, m.b) {
				t.Fatalf("echo of a %d-byte message: type %d, %d bytes, %v", len(m.b), typ, len(b), err)
			}
		}
		ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err = ws.ReadMessage()
		if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Fatalf("close handshake: got %v, want the backend's close 1000", err)
		}
	})
}
