package v1

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// sendRequest sends one v1 request (head and body messages) to the agent.
func sendRequest(t *testing.T, ws *websocket.Conn, h RequestHead, body string) {
	t.Helper()
	b, err := EncodeRequestHead(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte(body)); err != nil {
		t.Fatal(err)
	}
}

// readResponse reads the agent's answer: the raw head and the body.
func readResponse(t *testing.T, ws *websocket.Conn) (string, string, error) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer ws.SetReadDeadline(time.Time{})
	typ, head, err := ws.ReadMessage()
	if err != nil || typ != websocket.TextMessage {
		return string(head), "", errors.Join(err, errors.New("head is not a text message"))
	}
	typ, body, err := ws.ReadMessage()
	if err == nil && typ != websocket.BinaryMessage {
		err = errors.New("body is not a binary message")
	}
	return string(head), string(body), err
}

func get(url string) RequestHead { return RequestHead{Method: "GET", URL: url} }

// agentWith runs RunAgent (ID "agent-1", IdleSize 1, MaxSize 1 unless set)
// against a fake legacy server and returns its first connection.
func agentWith(t *testing.T, cfg AgentConfig) (*wsServer, *websocket.Conn) {
	srv := newWSServer(t)
	cfg.ID, cfg.Dial = "agent-1", srv.dial
	if cfg.IdleSize == 0 {
		cfg.IdleSize, cfg.MaxSize = 1, 1
	}
	startAgent(t, cfg)
	return srv, acceptAgent(t, srv)
}

func TestAgentRequestAndResponse(t *testing.T) {
	var got *http.Request
	var gotBody []byte
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
		if !IsLegacy(r.Context()) {
			t.Error("context not marked legacy")
		}
		w.Header()["X-Multi"] = []string{"a", "b"}
		w.Header().Set("Content-Length", "5")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "hello")
	})
	_, ws := agentWith(t, AgentConfig{Handler: handler})
	sendRequest(t, ws, RequestHead{Method: "PUT", URL: "http://api.internal:8080/p?q=1", ContentLength: -1,
		Header: http.Header{"X-Multi": {"v1", "v2"}}}, "chunked body")
	head, body, err := readResponse(t, ws)
	want := `{"StatusCode":201,"Header":{"Content-Length":["5"],"X-Multi":["a","b"]},"ContentLength":5}`
	if err != nil || head != want || body != "hello" {
		t.Fatalf("answer %s %q %v\nwant   %s", head, body, err, want)
	}
	switch {
	case got.Method != "PUT", got.URL.String() != "http://api.internal:8080/p?q=1", got.Host != "api.internal:8080",
		got.ContentLength != -1, got.RequestURI != "http://api.internal:8080/p?q=1",
		got.Header.Get("X-Proxy-Destination") != "http://api.internal:8080/p?q=1",
		len(got.Header["X-Multi"]) != 2, string(gotBody) != "chunked body":
		t.Errorf("request %+v, body %q", got, gotBody)
	}
}

func TestAgentEmptyAndLegacyAnswers(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		head    string
		body    string
	}{
		{"nothing written", func(w http.ResponseWriter, r *http.Request) {},
			`{"StatusCode":200,"Header":{},"ContentLength":0}`, ""},
		{"blacklist", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Dropped", "1")
			WriteLegacyError(w, StatusLegacyError, LegacyForbidden)
		}, `{"StatusCode":527,"Header":{},"ContentLength":24}`, "Destination is forbidden"},
		{"whitelist through a wrapper", func(w http.ResponseWriter, r *http.Request) {
			WriteLegacyError(wrapped{w}, StatusLegacyError, LegacyNotAllowed)
		}, `{"StatusCode":527,"Header":{},"ContentLength":27}`, "Destination is not allowed\n"},
		{"unknown length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "streamed")
		}, `{"StatusCode":200,"Header":{"Content-Type":["text/plain"]},"ContentLength":-1}`, "streamed"},
		{"invalid fields dropped", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Bad Name"] = []string{"x"}
			w.Header()["X-Bad"] = []string{"a\r\nb"}
			w.WriteHeader(404)
		}, `{"StatusCode":404,"Header":{},"ContentLength":-1}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ws := agentWith(t, AgentConfig{Handler: tt.handler})
			sendRequest(t, ws, get("http://api.internal/"), "")
			head, body, err := readResponse(t, ws)
			if err != nil || head != tt.head || body != tt.body {
				t.Errorf("got %s %q %v\nwant %s %q", head, body, err, tt.head, tt.body)
			}
		})
	}
}

type wrapped struct{ http.ResponseWriter }

func (w wrapped) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestWriteLegacyErrorOtherWriters(t *testing.T) {
	w := httptest.NewRecorder()
	WriteLegacyError(w, StatusLegacyError, LegacyExecError(errors.New("boom")))
	if w.Code != 527 || w.Body.String() != "Unable to execute request : boom\n" {
		t.Errorf("got %d %q", w.Code, w.Body.String())
	}
}

func TestAgentHeadRequest(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1234")
		w.Write([]byte("dropped")) // as net/http does for HEAD
	})
	_, ws := agentWith(t, AgentConfig{Handler: handler})
	sendRequest(t, ws, RequestHead{Method: "HEAD", URL: "http://api.internal/"}, "")
	head, body, err := readResponse(t, ws)
	if err != nil || head != `{"StatusCode":200,"Header":{"Content-Length":["1234"]},"ContentLength":1234}` || body != "" {
		t.Errorf("got %s %q %v", head, body, err)
	}
}

// TestAgentBrokenResponse: when the handler cannot finish its answer, the
// server must see a broken body message, never a clean short one.
func TestAgentBrokenResponse(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"ErrAbortHandler after a few bytes", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "partial")
			panic(http.ErrAbortHandler)
		}},
		{"ErrAbortHandler after frames left", func(w http.ResponseWriter, r *http.Request) {
			w.Write(make([]byte, 10000))
			panic(http.ErrAbortHandler)
		}},
		{"another panic", func(w http.ResponseWriter, r *http.Request) {
			w.Write(make([]byte, 10000))
			panic("boom")
		}},
		{"shorter than Content-Length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "0123456789")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ws := agentWith(t, AgentConfig{Handler: tt.handler, Logger: slogDiscard()})
			sendRequest(t, ws, get("http://api.internal/"), "")
			head, body, err := readResponse(t, ws)
			if err == nil {
				t.Fatalf("the server got a complete answer: %s %q", head, clip(body))
			}
			if !strings.HasPrefix(head, `{"StatusCode":200`) {
				t.Errorf("head %s", head)
			}
		})
	}
}

func TestAgentDrainsUnreadBodyAndReuses(t *testing.T) {
	n := 0
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		io.WriteString(w, "answer") // the 100 KB request body is not read
	})
	_, ws := agentWith(t, AgentConfig{Handler: handler})
	big := strings.Repeat("x", 100<<10)
	for i := range 3 {
		sendRequest(t, ws, RequestHead{Method: "POST", URL: "http://api.internal/", ContentLength: int64(len(big))}, big)
		if _, body, err := readResponse(t, ws); err != nil || body != "answer" {
			t.Fatalf("exchange %d: %q %v", i, body, err)
		}
	}
	if n != 3 {
		t.Errorf("handler ran %d times", n)
	}
}

func TestAgentBadHeads(t *testing.T) {
	tests := []struct {
		name string
		send func(ws *websocket.Conn)
		body string
	}{
		{"binary head", func(ws *websocket.Conn) {
			ws.WriteMessage(websocket.BinaryMessage, []byte(`{"Method":"GET","URL":"http://a/","Header":{},"ContentLength":0}`))
		}, "Unable to deserialize json http request : head is not a text message\n"},
		{"invalid method", func(ws *websocket.Conn) {
			ws.WriteMessage(websocket.TextMessage, []byte(`{"Method":"","URL":"http://a/"}`))
		}, "Unable to deserialize json http request : invalid method \"\"\n"},
		{"bad URL", func(ws *websocket.Conn) {
			ws.WriteMessage(websocket.TextMessage, []byte(`{"Method":"GET","URL":"http://a b/"}`))
		}, "Unable to deserialize json http request : parse \"http://a b/\": invalid character \" \" in host name\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ws := agentWith(t, AgentConfig{Handler: http.NotFoundHandler()})
			tt.send(ws)
			head, body, err := readResponse(t, ws)
			if err != nil || body != tt.body || !strings.HasPrefix(head, `{"StatusCode":527,"Header":{}`) {
				t.Fatalf("got %s %q %v", head, body, err)
			}
			expectClosed(t, ws)
		})
	}
}

func TestAgentTextBodyRejected(t *testing.T) {
	_, ws := agentWith(t, AgentConfig{Handler: http.NotFoundHandler()})
	b, _ := EncodeRequestHead(get("http://a/"))
	ws.WriteMessage(websocket.TextMessage, b)
	ws.WriteMessage(websocket.TextMessage, nil)
	if err := expectClosed(t, ws); !websocket.IsCloseError(err, websocket.CloseInternalServerErr) {
		t.Errorf("got %v", err)
	}
}

// TestAgentCancelsHandler: the handler's context is cancelled when the
// server closes the connection or sends an unsolicited message.
func TestAgentCancelsHandler(t *testing.T) {
	for _, how := range []string{"close", "unsolicited"} {
		t.Run(how, func(t *testing.T) {
			started, cancelled := make(chan struct{}), make(chan struct{})
			handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.ReadAll(r.Body)
				close(started)
				<-r.Context().Done()
				close(cancelled)
			})
			_, ws := agentWith(t, AgentConfig{Handler: handler})
			sendRequest(t, ws, get("http://api.internal/"), "")
			<-started
			if how == "close" {
				ws.Close()
			} else {
				ws.WriteMessage(websocket.TextMessage, []byte("{}"))
			}
			select {
			case <-cancelled:
			case <-time.After(5 * time.Second):
				t.Fatal("handler context not cancelled")
			}
		})
	}
}

// TestAgentPoolSizing: as the legacy agent, with IdleSize 1 and MaxSize 2
// one connection is opened; a second when the first turns busy; never a
// third.

// TestAgentFlushSendsHead: after Flush the server has the head while the
// handler is still running.
func TestAgentFlushSendsHead(t *testing.T) {
	proceed := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		http.NewResponseController(w).Flush()
		<-proceed
		io.WriteString(w, "data: 1\n\n")
	})
	_, ws := agentWith(t, AgentConfig{Handler: handler})
	sendRequest(t, ws, get("http://api.internal/events"), "")
	typ, head := readMsg(t, ws)
	close(proceed)
	if typ != websocket.TextMessage || string(head) != `{"StatusCode":200,"Header":{"Content-Type":["text/event-stream"]},"ContentLength":-1}` {
		t.Fatalf("head %d %s", typ, head)
	}
	if _, body := readMsg(t, ws); string(body) != "data: 1\n\n" {
		t.Fatalf("body %q", body)
	}
}

func TestAgentWriterErrors(t *testing.T) {
	errs := make(chan error, 2)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
			_, err := w.Write([]byte("x"))
			errs <- err
		case "/cl":
			w.Header().Set("Content-Length", "3")
			_, err := w.Write([]byte("four"))
			errs <- err
			w.Write([]byte("abc"))
		case "/bad-cl":
			w.Header().Set("Content-Length", "-1")
			w.Write([]byte("ok"))
		}
	})
	_, ws := agentWith(t, AgentConfig{Handler: handler})
	tests := []struct {
		path, head, body string
		err              error
	}{
		{"/204", `{"StatusCode":204,"Header":{},"ContentLength":-1}`, "", http.ErrBodyNotAllowed},
		{"/cl", `{"StatusCode":200,"Header":{"Content-Length":["3"]},"ContentLength":3}`, "abc", http.ErrContentLength},
		{"/bad-cl", `{"StatusCode":200,"Header":{},"ContentLength":-1}`, "ok", nil},
	}
	for _, tt := range tests {
		sendRequest(t, ws, get("http://api.internal"+tt.path), "")
		head, body, err := readResponse(t, ws)
		if err != nil || head != tt.head || body != tt.body {
			t.Errorf("%s: %s %q %v", tt.path, head, body, err)
		}
		if tt.err != nil {
			if err := <-errs; !errors.Is(err, tt.err) {
				t.Errorf("%s: Write error %v, want %v", tt.path, err, tt.err)
			}
		}
	}
}

// TestAgentShutdownCutNeverLooksComplete: a handler cut off by the end of
// the shutdown grace returns without writing (as a cancelled proxy does);
// the server must not get that as a complete, empty 200.
func TestAgentShutdownCutNeverLooksComplete(t *testing.T) {
	srv := newWSServer(t)
	started := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	stop := startAgent(t, AgentConfig{ID: "agent-1", Dial: srv.dial, IdleSize: 1, MaxSize: 1, Handler: handler, Logger: slogDiscard()})
	ws := acceptAgent(t, srv)
	sendRequest(t, ws, get("http://api.internal/"), "")
	<-started
	stop() // ShutdownTimeout 0: the exchange is cut at once
	if head, body, err := readResponse(t, ws); err == nil {
		t.Fatalf("the server got a complete answer: %s %q", head, body)
	}
}
