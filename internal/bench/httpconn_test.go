package bench

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestReadResponse(t *testing.T) {
	cases := []struct {
		name   string
		raw    string
		status int
		n      int64
		keep   bool
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, 5, true},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: 1\r\n\r\n", 200, 5, true},
		{"no body", "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n", 204, 0, true},
		{"close", "HTTP/1.1 503 Busy\r\nconnection: Close\r\ncontent-length: 2\r\n\r\nno", 503, 2, false},
		{"until EOF", "HTTP/1.1 200 OK\r\n\r\nall of it", 200, 9, false},
		{"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 200, 0, false},
	}
	for _, tc := range cases {
		br := bufio.NewReader(strings.NewReader(tc.raw))
		status, n, keep, err := readResponse(br)
		if err != nil || status != tc.status || n != tc.n || keep != tc.keep {
			t.Errorf("%s: got %d %d %v %v, want %d %d %v", tc.name, status, n, keep, err, tc.status, tc.n, tc.keep)
		}
	}
}

func TestReadResponseErrors(t *testing.T) {
	for _, raw := range []string{
		"SMTP 220 hi\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n",
	} {
		if _, _, _, err := readResponse(bufio.NewReader(strings.NewReader(raw))); !errors.Is(err, errMalformed) {
			t.Errorf("%q: got %v, want errMalformed", raw, err)
		}
	}
	short := "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
	if _, _, _, err := readResponse(bufio.NewReader(strings.NewReader(short))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short body: got %v, want ErrUnexpectedEOF", err)
	}
}

// TestConnAgainstNetHTTP keeps one connection for several responses of a
// real net/http server, fixed-length and chunked.
func TestConnAgainstNetHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush()
		}
		io.WriteString(w, strings.Repeat("x", 100))
	}))
	defer srv.Close()
	c, err := dialConn(srv.Listener.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	host := srv.Listener.Addr().String()
	for _, path := range []string{"/a", "/chunked", "/b", "/chunked"} {
		status, keep, err := c.Do(getRequest(host, path, ""))
		if err != nil || status != 200 || !keep {
			t.Fatalf("%s: got %d %v %v", path, status, keep, err)
		}
	}
}
