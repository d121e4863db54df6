package rules

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestParseDestinationGood(t *testing.T) {
	tests := []struct {
		raw      string
		want     string // u.String()
		wantHost string // u.Host, the address dialled
	}{
		{"http://api.internal/x", "http://api.internal/x", "api.internal"},
		{"http://H.Example:80/x?q=1", "http://h.example/x?q=1", "h.example"},
		{"HTTPS://Example.COM:443", "https://example.com/", "example.com"},
		{"https://h:80/", "https://h:80/", "h:80"},
		{"http://h:443/", "http://h:443/", "h:443"},
		{"http://h:080/a", "http://h/a", "h"},
		{"http://h:08080/a", "http://h:8080/a", "h:8080"},
		{"http://h:65535", "http://h:65535/", "h:65535"},
		{"http://[::1]:8080", "http://[::1]:8080/", "[::1]:8080"},
		{"http://[0:0:0::1]/", "http://[::1]/", "[::1]"},
		{"http://[::FFFF:1.2.3.4]:1/", "http://[::ffff:1.2.3.4]:1/", "[::ffff:1.2.3.4]:1"},
		{"http://10.0.0.1:9000/metrics", "http://10.0.0.1:9000/metrics", "10.0.0.1:9000"},
		{"http://my_host/", "http://my_host/", "my_host"},
		{"http://h", "http://h/", "h"},
		{"http://h?", "http://h/", "h"},
		{"http://h/a#frag", "http://h/a", "h"},
		{"http://h/a?x=1#frag", "http://h/a?x=1", "h"},
		{"http://h/a/../b/./c/..", "http://h/b/", "h"},
		{"http://h/../../etc", "http://h/etc", "h"},
		{"http://h/%2e%2E/admin", "http://h/admin", "h"},
		{"http://h/%7euser/%61dmin", "http://h/~user/admin", "h"},
		{"http://h/a%2fb%2Fc", "http://h/a%2Fb%2Fc", "h"},
		{"http://h/?a=%7e&b=%2f&c=%zz", "http://h/?a=~&b=%2F&c=%zz", "h"},
		{`http://h/"<>`, "http://h/%22%3C%3E", "h"},
		{"http://h/a.b/c.d", "http://h/a.b/c.d", "h"},
		{"http://h//x", "http://h//x", "h"},
	}
	for _, tt := range tests {
		u, err := ParseDestination(tt.raw)
		if err != nil {
			t.Errorf("ParseDestination(%q): %v", tt.raw, err)
			continue
		}
		if got := u.String(); got != tt.want {
			t.Errorf("ParseDestination(%q) = %q, want %q", tt.raw, got, tt.want)
		}
		if u.Host != tt.wantHost {
			t.Errorf("ParseDestination(%q).Host = %q, want %q", tt.raw, u.Host, tt.wantHost)
		}
		checkCanonical(t, u)
	}
}

func TestParseDestinationBad(t *testing.T) {
	tests := []struct {
		raw    string
		reason string // the message after `invalid destination "…": `
	}{
		{"", "empty"},
		{"://bad", "missing protocol scheme"},
		{"ftp://x", `scheme must be http or https, not "ftp"`},
		{"ws://x/", `scheme must be http or https, not "ws"`},
		{"/relative", "must be an absolute URL such as http://host/path"},
		{"h/x", "must be an absolute URL such as http://host/path"},
		{"http://", "missing host"},
		{"http:///x", "missing host"},
		{"http:/x", "missing host"},
		{"http:x", "must have the form http://host/path"},
		{"http://u:p@h/", "must not contain user credentials"},
		{"http://u@h/", "must not contain user credentials"},
		{"http://@h/", "must not contain user credentials"},
		{"http://h:0/", `port must be 1..65535, got "0"`},
		{"http://h:99999/", `port must be 1..65535, got "99999"`},
		{"http://h:99999999999999999999999/", `port must be 1..65535, got "99999999999999999999999"`},
		{"http://h:/", "empty port"},
		{"http://[::1]:/", "empty port"},
		{"http://h:1x/", `invalid port ":1x" after host`},
		{"http://h /", "contains a space"},
		{" http://h/", "contains a space"},
		{"http://h/a b", "contains a space"},
		{"http://h/\t", "contains a control character"},
		{"http://h/\r\nX-Evil: 1", "contains a control character"},
		{"http://h/\x00", "contains a control character"},
		{"http://h/\x7f", "contains a control character"},
		{"http://é/", "contains a non-ASCII character"},
		{"http://h%C3%A9/", `invalid character "\xc3" in host`},
		{"http://a!b/", `invalid character "!" in host`},
		{"http://::1/", `invalid port "::1" after host`},
		{"http://[fe80::1%25eth0]/", "IPv6 zones are not supported"},
		{"http://[1.2.3.4]/", "invalid IP-literal"},
		{"http://[::1/", "missing ']' in host"},
	}
	for _, tt := range tests {
		u, err := ParseDestination(tt.raw)
		if err == nil {
			t.Errorf("ParseDestination(%q) = %q, want error", tt.raw, u)
			continue
		}
		if !errors.Is(err, ErrBadDestination) {
			t.Errorf("ParseDestination(%q) error %v does not wrap ErrBadDestination", tt.raw, err)
		}
		if got, want := err.Error(), fmt.Sprintf("invalid destination %q: %s", tt.raw, tt.reason); got != want {
			t.Errorf("ParseDestination(%q) error:\n got %s\nwant %s", tt.raw, got, want)
		}
	}
}

func TestParseDestinationLongInputIsTruncated(t *testing.T) {
	raw := "ftp://" + strings.Repeat("a", 10000)
	_, err := ParseDestination(raw)
	if err == nil {
		t.Fatal("want error")
	}
	if n := len(err.Error()); n > 2*maxQuoted {
		t.Errorf("error message is %d bytes long", n)
	}
}

// checkCanonical asserts the properties ParseDestination promises.
func checkCanonical(t *testing.T, u *url.URL) {
	t.Helper()
	s := u.String()
	again, err := url.Parse(s)
	if err != nil {
		t.Fatalf("url.Parse(%q): %v", s, err)
	}
	if !reflect.DeepEqual(again, u) {
		t.Errorf("url.Parse(%q) = %#v, want %#v", s, again, u)
	}
	via, err := ParseDestination(s)
	if err != nil {
		t.Fatalf("ParseDestination(%q) of a canonical URL: %v", s, err)
	}
	if !reflect.DeepEqual(via, u) {
		t.Errorf("ParseDestination(%q) = %#v, want %#v", s, via, u)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		t.Errorf("%q: scheme %q", s, u.Scheme)
	}
	if u.Hostname() == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		t.Errorf("%q: not an absolute URL with a host: %#v", s, u)
	}
	// The text the rules see names the dialled address right after the scheme.
	if prefix := u.Scheme + "://" + u.Host + "/"; !strings.HasPrefix(s, prefix) {
		t.Errorf("%q does not start with %q", s, prefix)
	}
}
