package wsconn

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pair returns two connected WebSockets over loopback: the client's and the
// server's.
func pair(t *testing.T) (*websocket.Conn, *websocket.Conn) {
	t.Helper()
	got := make(chan *websocket.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		got <- ws
	}))
	t.Cleanup(srv.Close)
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, <-got
}

func TestStreamBothWays(t *testing.T) {
	cws, sws := pair(t)
	a, b := New(cws, Config{MaxPending: 4096, MaxMessage: 1000}), New(sws, Config{})
	defer a.Close()
	defer b.Close()
	payload := make([]byte, 3<<20)
	rand.Read(payload)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for p := payload; len(p) > 0; {
			k := min(len(p), 777)
			if _, err := a.Write(p[:k]); err != nil {
				t.Error(err)
				return
			}
			p = p[k:]
		}
	}()
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(b, got); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if !bytes.Equal(got, payload) {
		t.Fatal("bytes differ after the trip")
	}
}

func TestTextMessageIsAnError(t *testing.T) {
	cws, sws := pair(t)
	b := New(sws, Config{})
	defer b.Close()
	defer cws.Close()
	if err := cws.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Read(make([]byte, 10)); err == nil || !strings.Contains(err.Error(), "text message") {
		t.Fatalf("got %v, want a text message error", err)
	}
	if _, err := b.Write([]byte("x")); err == nil {
		t.Fatal("write after a fatal read error succeeded")
	}
}

func TestCloseIsIdempotentAndUnblocksWriters(t *testing.T) {
	cws, sws := pair(t)
	defer sws.Close()
	a := New(cws, Config{MaxPending: 10})
	// The peer never reads, so writes pile up until the pending cap.
	errs := make(chan error, 1)
	go func() {
		for {
			if _, err := a.Write(make([]byte, 64<<10)); err != nil {
				errs <- err
				return
			}
		}
	}()
	if err := a.Close(); err != nil && !errors.Is(err, ErrClosed) {
		t.Logf("close: %v", err)
	}
	a.Close()
	if err := <-errs; err == nil {
		t.Fatal("blocked writer returned no error")
	}
	if _, err := a.Read(make([]byte, 1)); err == nil {
		t.Fatal("read after close succeeded")
	}
}
