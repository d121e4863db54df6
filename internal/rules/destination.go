package rules

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// ErrBadDestination is wrapped by every error of ParseDestination.
var ErrBadDestination = errors.New("bad destination")

// maxQuoted bounds how much of a rejected destination an error message quotes.
const maxQuoted = 256

// destError is the error of ParseDestination.
type destError struct {
	raw    string
	reason string
}

func (e *destError) Error() string {
	raw := e.raw
	if len(raw) > maxQuoted {
		raw = raw[:maxQuoted] + "..."
	}
	return fmt.Sprintf("invalid destination %q: %s", raw, e.reason)
}

func (e *destError) Unwrap() error { return ErrBadDestination }

// ParseDestination parses the value of an X-PROXY-DESTINATION header: an
// absolute http or https URL with a host, without user credentials, spaces,
// control or non-ASCII characters. It returns the canonical form described
// in the package documentation, so that url.Parse(u.String()) gives back an
// equal URL. Errors wrap ErrBadDestination.
func ParseDestination(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, &destError{raw, "empty"}
	}
	if reason := checkBytes(raw); reason != "" {
		return nil, &destError{raw, reason}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &destError{raw, parseReason(err)}
	}
	// One round normally reaches the canonical form; the loop only guards
	// against a form that url.Parse and URL.String do not agree on.
	for range 3 {
		s, err := canonical(u)
		if err != nil {
			return nil, &destError{raw, err.Error()}
		}
		if u, err = url.Parse(s); err != nil {
			return nil, &destError{raw, parseReason(err)}
		}
		if again, err := canonical(u); err == nil && again == s && u.String() == s {
			return u, nil
		}
	}
	return nil, &destError{raw, "URL has no stable canonical form"}
}

// checkBytes allows printable ASCII only.
func checkBytes(raw string) string {
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == ' ':
			return "contains a space"
		case c < ' ' || c == 0x7f:
			return "contains a control character"
		case c > 0x7f:
			return "contains a non-ASCII character"
		}
	}
	return ""
}

func parseReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// canonical returns the canonical string form of u.
func canonical(u *url.URL) (string, error) {
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "":
		return "", errors.New("must be an absolute URL such as http://host/path")
	case scheme != "http" && scheme != "https":
		return "", fmt.Errorf("scheme must be http or https, not %q", u.Scheme)
	case u.Opaque != "":
		return "", errors.New("must have the form " + scheme + "://host/path")
	case u.User != nil:
		return "", errors.New("must not contain user credentials")
	}
	host, err := canonicalHost(scheme, u.Host)
	if err != nil {
		return "", err
	}
	s := scheme + "://" + host + canonicalPath(u.EscapedPath())
	if u.RawQuery != "" {
		s += "?" + normalizePercent(u.RawQuery)
	}
	return s, nil
}

func canonicalHost(scheme, hostport string) (string, error) {
	if hostport == "" {
		return "", errors.New("missing host")
	}
	host, port, hasPort, err := splitHostPort(hostport)
	if err != nil {
		return "", err
	}
	name, err := canonicalName(host)
	if err != nil {
		return "", err
	}
	suffix, err := canonicalPort(scheme, port, hasPort)
	if err != nil {
		return "", err
	}
	return name + suffix, nil
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port".
func splitHostPort(hostport string) (host, port string, hasPort bool, err error) {
	if strings.HasPrefix(hostport, "[") {
		end := strings.LastIndexByte(hostport, ']')
		if end < 0 {
			return "", "", false, errors.New("missing ']' in host")
		}
		host, rest := hostport[:end+1], hostport[end+1:]
		if rest == "" {
			return host, "", false, nil
		}
		if rest[0] != ':' {
			return "", "", false, fmt.Errorf("unexpected %q after host", rest)
		}
		return host, rest[1:], true, nil
	}
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 {
		return hostport, "", false, nil
	}
	return hostport[:i], hostport[i+1:], true, nil
}

// canonicalName lower-cases a DNS name or IPv4 address and writes a
// bracketed IPv6 address in its shortest form.
func canonicalName(host string) (string, error) {
	if strings.HasPrefix(host, "[") {
		inner := host[1 : len(host)-1]
		if strings.Contains(inner, "%") {
			return "", errors.New("IPv6 zones are not supported")
		}
		addr, err := netip.ParseAddr(inner)
		if err != nil || !addr.Is6() {
			return "", fmt.Errorf("invalid IPv6 address %q", inner)
		}
		return "[" + addr.String() + "]", nil
	}
	if host == "" {
		return "", errors.New("missing host")
	}
	if strings.Contains(host, ":") {
		return "", errors.New("an IPv6 address must be written in brackets")
	}
	name := strings.ToLower(host)
	for i := 0; i < len(name); i++ {
		if !isHostChar(name[i]) {
			return "", fmt.Errorf("invalid character %q in host", name[i:i+1])
		}
	}
	return name, nil
}

func isHostChar(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_'
}

// canonicalPort returns ":port", or "" for no port or the scheme's default.
func canonicalPort(scheme, port string, hasPort bool) (string, error) {
	if !hasPort {
		return "", nil
	}
	if port == "" {
		return "", errors.New("empty port")
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return "", fmt.Errorf("invalid port %q", port)
		}
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port must be 1..65535, got %q", port)
	}
	if scheme == "http" && n == 80 || scheme == "https" && n == 443 {
		return "", nil
	}
	return ":" + strconv.Itoa(n), nil
}

// canonicalPath normalises an escaped path; the empty path becomes "/".
func canonicalPath(escaped string) string {
	if escaped == "" {
		return "/"
	}
	return removeDotSegments(normalizePercent(escaped))
}

// removeDotSegments removes "." and ".." segments (RFC 3986, section 5.2.4)
// from a path that starts with "/".
func removeDotSegments(p string) string {
	if !strings.HasPrefix(p, "/") || !strings.Contains(p, ".") {
		return p
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	for i, seg := range segs {
		last := i == len(segs)-1
		switch seg {
		case ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
			continue
		}
		if last { // "/a/." and "/a/b/.." name a directory: keep the slash
			out = append(out, "")
		}
	}
	return "/" + strings.Join(out, "/")
}

// normalizePercent decodes percent-encoded unreserved characters and
// upper-cases the hex digits of the other escapes (RFC 3986, section 6.2.2).
// A '%' that does not start a valid escape is left alone.
func normalizePercent(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			b.WriteByte(s[i])
			continue
		}
		c := unhex(s[i+1])<<4 | unhex(s[i+2])
		if isUnreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteString(strings.ToUpper(s[i : i+3]))
		}
		i += 2
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
