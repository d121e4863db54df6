package v1

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// xProxyDest matches the X-Proxy-Destination entry of a recorded request
// head. The legacy server forwarded that header to the agent; we
// deliberately do not (the destination is the head's URL), so it is removed
// from the expected bytes. Everything else must be byte-identical.
var xProxyDest = regexp.MustCompile(`,?"X-Proxy-Destination":\["[^"]*"\]`)

// TestGoldenServer replays the application request of each recording
// through httputil.ReverseProxy (as the server uses this package) into a
// ServerConn, and checks the head and body messages the agent receives
// against the legacy server's, then the answer the application gets.
func TestGoldenServer(t *testing.T) {
	for _, name := range []string{"server-get", "server-post-binary", "server-chunked-request",
		"server-527", "server-large-body"} {
		t.Run(name, func(t *testing.T) { goldenServer(t, loadRecording(t, name)) })
	}
}

func goldenServer(t *testing.T, rec []event) {
	pool, notified := newTestPool(t, 1, 0, ServerConnConfig{})
	agent := addAgent(t, pool)
	agentDone := make(chan [2][]byte, 1)
	go fakeAgent(t, agent, pick(rec, "agent->server", ""), agentDone)

	app := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL, _ = url.Parse(pr.In.Header.Get("X-Proxy-Destination"))
		},
		Transport: poolTransport{pool: pool, notified: notified},
	})
	defer app.Close()
	resp := sendRaw(t, app, pick(rec, "app->server", "http-request")[0])
	got := <-agentDone

	sent := pick(rec, "server->agent", "")
	wantHead := xProxyDest.ReplaceAllString(fill(string(sent[0].payload(t)), nil), "")
	if string(got[0]) != wantHead {
		t.Errorf("request head:\ngot  %s\nwant %s", got[0], wantHead)
	}
	if !bytes.Equal(got[1], sent[1].payload(t)) {
		t.Errorf("request body: got %q, want %q", clip(string(got[1])), clip(string(sent[1].payload(t))))
	}
	checkAppResponse(t, resp, pick(rec, "server->app", "http-response")[0])
}

// fakeAgent reads the two request messages, checks their opcodes, then
// sends the recorded answer.
func fakeAgent(t *testing.T, ws *websocket.Conn, answer []event, done chan<- [2][]byte) {
	var got [2][]byte
	defer func() { done <- got }()
	for i, want := range []int{websocket.TextMessage, websocket.BinaryMessage} {
		typ, b, err := ws.ReadMessage()
		if err != nil || typ != want {
			t.Errorf("request message %d: opcode %d, err %v", i, typ, err)
			return
		}
		got[i] = b
	}
	for _, e := range answer {
		typ := websocket.TextMessage
		if e.Kind == "ws-binary" {
			typ = websocket.BinaryMessage
		}
		if err := ws.WriteMessage(typ, e.payload(t)); err != nil {
			t.Errorf("write answer: %v", err)
		}
	}
}

// sendRaw sends the application's request, rebuilt from its recorded
// lines, to srv over TCP and reads the answer.
func sendRaw(t *testing.T, srv *httptest.Server, e event) *http.Response {
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	var raw strings.Builder
	raw.WriteString(e.Method + " " + e.Path + " HTTP/1.1\r\n")
	for _, h := range e.Headers {
		raw.WriteString(h[0] + ": " + fill(h[1], map[string]string{"<SERVER_PORT>": port}) + "\r\n")
	}
	raw.WriteString("Connection: close\r\n\r\n")
	if e.Body != nil || e.BodyB64 != "" {
		raw.Write(e.payload(t))
	}
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read app response: %v", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp
}

// checkAppResponse compares what the application gets with the legacy
// server's answer: status, body, and every header the agent sent (the
// Date and Content-Length the legacy server's net/http added may differ:
// ReverseProxy streams a body of unknown length).
func checkAppResponse(t *testing.T, resp *http.Response, want event) {
	if resp.StatusCode != want.Status {
		t.Errorf("status %d, want %d", resp.StatusCode, want.Status)
	}
	if got, _ := io.ReadAll(resp.Body); !bytes.Equal(got, want.payload(t)) {
		t.Errorf("body %q, want %q", clip(string(got)), clip(string(want.payload(t))))
	}
	for _, h := range want.Headers {
		if h[1] == "<DATE>" || h[0] == "Content-Length" {
			continue
		}
		if !slices.Contains(resp.Header.Values(h[0]), h[1]) {
			t.Errorf("header %s: %q missing in %q", h[0], h[1], resp.Header.Values(h[0]))
		}
	}
}
