package demoapi

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEndpoints(t *testing.T) {
	h := Handler()
	cases := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/hello", "", 200, "hello world\n"},
		{"POST", "/echo", "abc\x00\xff", 200, "abc\x00\xff"},
		{"POST", "/sha256", "abc", 200, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad 3\n"},
		{"GET", "/bytes?n=3", "", 200, "\x00\x01\x02"},
		{"GET", "/bytes?n=-1", "", 400, ""},
		{"GET", "/status/418", "", 418, ""},
		{"GET", "/status/99", "", 400, ""},
		{"GET", "/sleep?d=1ms", "", 200, "slept 1ms\n"},
		{"GET", "/sleep?d=2h", "", 400, ""},
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
		if rec.Code != tc.status || (tc.want != "" && rec.Body.String() != tc.want) {
			t.Errorf("%s %s: got %d %q, want %d %q", tc.method, tc.path, rec.Code, rec.Body.String(), tc.status, tc.want)
		}
	}
}

func TestBytesFollowPattern(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/bytes?n=100000", nil))
	b, _ := io.ReadAll(rec.Body)
	if len(b) != 100000 || rec.Header().Get("Content-Length") != "100000" {
		t.Fatalf("got %d bytes, Content-Length %q", len(b), rec.Header().Get("Content-Length"))
	}
	for i, c := range b {
		if c != Pattern(int64(i)) {
			t.Fatalf("byte %d = %d, want %d", i, c, Pattern(int64(i)))
		}
	}
}
