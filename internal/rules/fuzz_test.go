package rules

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
)

var destinationSeeds = []string{
	"", "://bad", "ftp://x", "http://", "http:x", "http:///x", "/relative",
	"http://u:p@h/", "http://@h/", "http://h:0/", "http://h:99999/", "http://h:/",
	"http://h:080/a", "http://H.Example:80/x?q=1", "HTTPS://Example.COM:443",
	"http://h /", "http://h/\r\nX: 1", "http://é/", "http://h%C3%A9/",
	"http://[::1]:8080", "http://[0:0::1]/", "http://::1/", "http://[fe80::1%25eth0]/",
	"http://[1.2.3.4]/", "http://[::1/", "http://[::ffff:1.2.3.4]:1/",
	"http://h/a/../b/./c/..", "http://h/%2e%2E/admin", "http://h/%7euser/%2fx?a=%7e&b=%zz#f",
	`http://h/"<>`, "http://h//x", "http://h/;a=1?b", "http://h/%", "http://h/?%",
	"http://h:65535", "http://10.0.0.1:9000/metrics", "https://google.com/search?q=go",
}

// fuzzRules is a fixed rule set the fuzz targets check destinations against.
var fuzzRules = []Rule{
	{URL: "^https?://google"},
	{URL: ":8080/"},
	{URL: "/admin"},
	{URL: "%2F"},
	{Method: "^DELETE$"},
}

// FuzzParseDestination checks that ParseDestination never panics and that a
// URL it accepts is canonical: parsing its text again gives the same URL, so
// the rules and the dialler see the same destination.
func FuzzParseDestination(f *testing.F) {
	for _, s := range destinationSeeds {
		f.Add(s)
	}
	black, err := Compile(fuzzRules, nil)
	if err != nil {
		f.Fatal(err)
	}
	white, err := Compile(nil, fuzzRules)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseDestination(raw)
		if err != nil {
			if !errors.Is(err, ErrBadDestination) {
				t.Fatalf("ParseDestination(%q): error %v does not wrap ErrBadDestination", raw, err)
			}
			return
		}
		checkCanonical(t, u)
		again, err := ParseDestination(u.String())
		if err != nil {
			t.Fatalf("ParseDestination(%q): %v", u.String(), err)
		}
		for _, s := range []*Set{black, white} {
			if a, b := s.Check("GET", u, nil), s.Check("GET", again, nil); !sameDecision(a, b) {
				t.Errorf("Check(%q) = %v, Check(%q) = %v", u, a, again, b)
			}
		}
	})
}

// FuzzCompileCheck checks that Compile and Check never panic, that Check only
// returns the two documented errors, and that a rule denies a request as a
// blacklist exactly when it admits it as a whitelist.
func FuzzCompileCheck(f *testing.F) {
	f.Add("^GET$", "^http://a/", "X-Token", "^v$", "GET", "http://a/x", "v")
	f.Add("", "google", "", "", "POST", "https://google.com/", "")
	f.Add("(", "", "", "", "GET", "http://a/", "")
	f.Add("", "", "x-role", "^$", "PUT", "http://[::1]:8080/", "")
	f.Add("(?i)delete", "a**", "", "", "DELETE", "http://a/", "")
	f.Fuzz(func(t *testing.T, method, urlRe, name, headerRe, reqMethod, rawURL, value string) {
		r := Rule{Method: method, URL: urlRe}
		if name != "" || headerRe != "" {
			r.Headers = map[string]string{name: headerRe}
		}
		black, err := Compile([]Rule{r}, nil)
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile error %v is a %T, want *CompileError", err, err)
			}
			return
		}
		white, err := Compile(nil, []Rule{r})
		if err != nil {
			t.Fatalf("rule compiles as a blacklist but not as a whitelist: %v", err)
		}
		u, err := url.Parse(rawURL)
		if err != nil {
			u = nil
		}
		h := http.Header{}
		if name != "" {
			h.Add(name, value)
		}
		denied := black.Check(reqMethod, u, h)
		admitted := white.Check(reqMethod, u, h)
		if denied != nil && !errors.Is(denied, ErrForbidden) {
			t.Fatalf("blacklist Check = %v", denied)
		}
		if admitted != nil && !errors.Is(admitted, ErrNotAllowed) {
			t.Fatalf("whitelist Check = %v", admitted)
		}
		if (denied != nil) != (admitted == nil) {
			t.Errorf("rule %+v on %s %v %v: blacklist says %v, whitelist says %v", r, reqMethod, u, h, denied, admitted)
		}
	})
}

func sameDecision(a, b error) bool {
	return errors.Is(a, ErrForbidden) == errors.Is(b, ErrForbidden) &&
		errors.Is(a, ErrNotAllowed) == errors.Is(b, ErrNotAllowed) &&
		(a == nil) == (b == nil)
}
