package rules

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
)

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("url.Parse(%q): %v", raw, err)
	}
	return u
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name      string
		black     []Rule
		white     []Rule
		wantKey   string
		wantError string
	}{
		{
			name:      "blacklist url",
			black:     []Rule{{URL: "ok"}, {URL: "("}},
			wantKey:   "blacklist[1].url",
			wantError: `blacklist[1].url: invalid regex "(": missing closing )`,
		},
		{
			name:      "whitelist method",
			white:     []Rule{{Method: "[a-"}},
			wantKey:   "whitelist[0].method",
			wantError: `whitelist[0].method: invalid regex "[a-": missing closing ]`,
		},
		{
			name:      "header value",
			black:     []Rule{{Headers: map[string]string{"x-ok": "a", "x-bad": "a**"}}},
			wantKey:   "blacklist[0].headers.x-bad",
			wantError: `blacklist[0].headers.x-bad: invalid regex "a**": invalid nested repetition operator in "**"`,
		},
		{
			name:      "empty header name",
			white:     []Rule{{}, {Headers: map[string]string{"": "x"}}},
			wantKey:   "whitelist[1].headers.",
			wantError: `whitelist[1].headers.: empty header name`,
		},
		{
			name:      "blacklist reported before whitelist",
			black:     []Rule{{Method: "("}},
			white:     []Rule{{Method: ")"}},
			wantKey:   "blacklist[0].method",
			wantError: `blacklist[0].method: invalid regex "(": missing closing )`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Compile(tt.black, tt.white)
			if err == nil {
				t.Fatalf("Compile() = %v, nil; want error", s)
			}
			if got := err.Error(); got != tt.wantError {
				t.Errorf("error = %q, want %q", got, tt.wantError)
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *CompileError", err)
			}
			if got := ce.Key(); got != tt.wantKey {
				t.Errorf("Key() = %q, want %q", got, tt.wantKey)
			}
			if errors.Unwrap(err) == nil {
				t.Error("CompileError does not unwrap to its cause")
			}
		})
	}
}

type checkCase struct {
	method string
	url    string
	header http.Header
	want   error // nil, ErrForbidden or ErrNotAllowed
}

func TestCheck(t *testing.T) {
	google := Rule{Method: ".*", URL: "^http(s)?://google.*", Headers: map[string]string{"X-CUSTOM-HEADER": "^value$"}}
	tests := []struct {
		name  string
		black []Rule
		white []Rule
		cases []checkCase
	}{
		{
			name: "empty lists allow all",
			cases: []checkCase{
				{"GET", "http://a/", nil, nil},
				{"DELETE", "https://b:8443/x?y", http.Header{"X": {"1"}}, nil},
			},
		},
		{
			name:  "blacklist url",
			black: []Rule{{URL: "^https?://internal\\.example/"}},
			cases: []checkCase{
				{"GET", "http://internal.example/x", nil, ErrForbidden},
				{"GET", "https://internal.example/", nil, ErrForbidden},
				{"GET", "http://public.example/", nil, nil},
			},
		},
		{
			name:  "url rules are unanchored",
			black: []Rule{{URL: "secret"}},
			cases: []checkCase{
				{"GET", "http://a/top/secret/file", nil, ErrForbidden},
				{"GET", "http://a/?q=secret", nil, ErrForbidden},
				{"GET", "http://a/public", nil, nil},
			},
		},
		{
			name:  "blacklist method",
			black: []Rule{{Method: "^(DELETE|PUT)$"}},
			cases: []checkCase{
				{"DELETE", "http://a/", nil, ErrForbidden},
				{"PUT", "http://a/", nil, ErrForbidden},
				{"GET", "http://a/", nil, nil},
				{"delete", "http://a/", nil, nil}, // methods are case-sensitive
			},
		},
		{
			name:  "whitelist",
			white: []Rule{{URL: "^http://api\\.internal/"}, {Method: "^GET$", URL: "^https://docs/"}},
			cases: []checkCase{
				{"POST", "http://api.internal/v1", nil, nil},
				{"GET", "https://docs/x", nil, nil},
				{"POST", "https://docs/x", nil, ErrNotAllowed},
				{"GET", "http://elsewhere/", nil, ErrNotAllowed},
			},
		},
		{
			name:  "blacklist wins over whitelist",
			black: []Rule{{URL: "/admin"}},
			white: []Rule{{URL: "^http://api/"}},
			cases: []checkCase{
				{"GET", "http://api/admin/x", nil, ErrForbidden},
				{"GET", "http://api/users", nil, nil},
				{"GET", "http://other/admin", nil, ErrForbidden},
				{"GET", "http://other/", nil, ErrNotAllowed},
			},
		},
		{
			name:  "v1 example rule needs every field",
			black: []Rule{google},
			cases: []checkCase{
				{"GET", "http://google.com/", http.Header{"X-Custom-Header": {"value"}}, ErrForbidden},
				{"GET", "https://google.fr/", http.Header{"X-Custom-Header": {"value"}}, ErrForbidden},
				{"GET", "http://google.com/", http.Header{"X-Custom-Header": {"other"}}, nil},
				{"GET", "http://google.com/", nil, nil},
				{"GET", "http://bing.com/", http.Header{"X-Custom-Header": {"value"}}, nil},
			},
		},
		{
			name:  "header names are canonicalised",
			black: []Rule{{Headers: map[string]string{"x-token": "^bad$"}}},
			cases: []checkCase{
				{"GET", "http://a/", http.Header{"X-Token": {"bad"}}, ErrForbidden},
				{"GET", "http://a/", http.Header{"x-token": {"bad"}}, ErrForbidden}, // non-canonical map key
				{"GET", "http://a/", http.Header{"X-Token": {"good"}}, nil},
			},
		},
		{
			name:  "any value of a header may match",
			black: []Rule{{Headers: map[string]string{"X-Role": "^admin$"}}},
			white: []Rule{{Headers: map[string]string{"X-Team": "^blue$"}}},
			cases: []checkCase{
				{"GET", "http://a/", http.Header{"X-Role": {"user", "admin"}, "X-Team": {"blue"}}, ErrForbidden},
				{"GET", "http://a/", http.Header{"X-Role": {"user"}, "X-Team": {"red", "blue"}}, nil},
				{"GET", "http://a/", http.Header{"X-Team": {"red", "green"}}, ErrNotAllowed},
				{"GET", "http://a/", http.Header{"X-Team": {"red, blue"}}, ErrNotAllowed}, // one value
			},
		},
		{
			name:  "missing header is the empty string",
			black: []Rule{{Headers: map[string]string{"X-Auth": "^$"}}},
			cases: []checkCase{
				{"GET", "http://a/", nil, ErrForbidden},
				{"GET", "http://a/", http.Header{"Other": {"x"}}, ErrForbidden},
				{"GET", "http://a/", http.Header{"X-Auth": {""}}, ErrForbidden},
				{"GET", "http://a/", http.Header{"X-Auth": {"token"}}, nil},
			},
		},
		{
			name:  "missing header fails a non-empty regex",
			white: []Rule{{Headers: map[string]string{"X-Auth": "."}}},
			cases: []checkCase{
				{"GET", "http://a/", nil, ErrNotAllowed},
				{"GET", "http://a/", http.Header{"X-Auth": {"t"}}, nil},
			},
		},
		{
			name:  "empty rule matches everything",
			white: []Rule{{}},
			black: []Rule{{Headers: map[string]string{"X-Any": ""}}},
			cases: []checkCase{
				{"GET", "http://a/", nil, ErrForbidden},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Compile(tt.black, tt.white)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			for _, c := range tt.cases {
				got := s.Check(c.method, mustURL(t, c.url), c.header)
				if !errors.Is(got, c.want) || (got == nil) != (c.want == nil) {
					t.Errorf("Check(%s %s %v) = %v, want %v", c.method, c.url, c.header, got, c.want)
				}
			}
		})
	}
}

func TestCheckErrors(t *testing.T) {
	s, err := Compile([]Rule{{URL: "a"}, {URL: "forbidden"}}, []Rule{{URL: "allowed"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url      string
		wantText string
		wantList string
		wantIdx  int
	}{
		{"http://h/forbidden", "Destination is forbidden", "blacklist", 1},
		{"http://h/other", "Destination is not allowed", "whitelist", -1},
	}
	for _, tt := range tests {
		err := s.Check("GET", mustURL(t, tt.url), nil)
		var de *DeniedError
		if !errors.As(err, &de) {
			t.Fatalf("Check(%s) = %v (%T), want a *DeniedError", tt.url, err, err)
		}
		if err.Error() != tt.wantText || de.List != tt.wantList || de.Index != tt.wantIdx {
			t.Errorf("Check(%s) = %q %s[%d], want %q %s[%d]",
				tt.url, err.Error(), de.List, de.Index, tt.wantText, tt.wantList, tt.wantIdx)
		}
	}
}

func TestSentinelTexts(t *testing.T) {
	if got := ErrForbidden.Error(); got != "Destination is forbidden" {
		t.Errorf("ErrForbidden = %q", got)
	}
	if got := ErrNotAllowed.Error(); got != "Destination is not allowed" {
		t.Errorf("ErrNotAllowed = %q", got)
	}
}

func TestNilSetAllows(t *testing.T) {
	var s *Set
	if err := s.Check("GET", mustURL(t, "http://a/"), nil); err != nil {
		t.Errorf("nil Set: Check = %v, want nil", err)
	}
	s, err := Compile(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check("", nil, nil); err != nil {
		t.Errorf("empty Set, nil URL: Check = %v, want nil", err)
	}
}

func TestCheckNilURL(t *testing.T) {
	s, err := Compile([]Rule{{URL: "^$"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check("GET", nil, nil); !errors.Is(err, ErrForbidden) {
		t.Errorf("nil URL against ^$: Check = %v, want ErrForbidden", err)
	}
}

// TestCheckConcurrent runs Check from many goroutines, for the race detector.
func TestCheckConcurrent(t *testing.T) {
	s, err := Compile([]Rule{{URL: "x"}}, []Rule{{Headers: map[string]string{"A": "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	u := mustURL(t, "http://h/")
	done := make(chan error)
	for range 8 {
		go func() {
			done <- s.Check("GET", u, http.Header{"A": {"b"}})
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Errorf("Check = %v", err)
		}
	}
}
