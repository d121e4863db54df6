package rules

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
)

// Errors returned by Check. Their texts are the legacy wsp answers, which
// applications may compare against, so they are capitalised and must not change.
var (
	// ErrForbidden means the request matched a blacklist rule.
	ErrForbidden = errors.New("Destination is forbidden")
	// ErrNotAllowed means the whitelist is not empty and no rule matched.
	ErrNotAllowed = errors.New("Destination is not allowed")
)

// Rule is one entry of a blacklist or whitelist, in the form it has in the
// config files. Each field is a regular expression; an empty one matches all.
type Rule struct {
	Method  string            `yaml:"method"`
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
}

// Set is a compiled blacklist and whitelist. It is immutable and safe for
// concurrent use. A nil *Set allows everything.
type Set struct {
	blacklist []matcher
	whitelist []matcher
}

// DeniedError is the error Check returns for a denied request. Its text is
// exactly the text of the sentinel it wraps (ErrForbidden or ErrNotAllowed),
// and it records which rule denied the request, for logs.
type DeniedError struct {
	List  string // "blacklist" or "whitelist"
	Index int    // index of the blacklist rule that matched; -1 for the whitelist
	Err   error  // ErrForbidden or ErrNotAllowed
}

func (e *DeniedError) Error() string { return e.Err.Error() }
func (e *DeniedError) Unwrap() error { return e.Err }

// CompileError reports a rule that cannot be compiled.
type CompileError struct {
	List  string // "blacklist" or "whitelist"
	Index int    // index of the rule in its list
	Field string // "method", "url" or "headers.NAME" (NAME as written)
	Err   error  // what is wrong
}

// Key names the faulty field, e.g. "blacklist[1].url".
func (e *CompileError) Key() string { return fmt.Sprintf("%s[%d].%s", e.List, e.Index, e.Field) }
func (e *CompileError) Error() string {
	return e.Key() + ": " + e.Err.Error()
}
func (e *CompileError) Unwrap() error { return e.Err }

// matcher is a compiled Rule; a nil regexp matches everything.
type matcher struct {
	method  *regexp.Regexp
	url     *regexp.Regexp
	headers []headerMatcher
}

type headerMatcher struct {
	name string // canonical
	re   *regexp.Regexp
}

// Compile compiles both lists. The error, if any, is a *CompileError.
func Compile(blacklist, whitelist []Rule) (*Set, error) {
	black, err := compileList("blacklist", blacklist)
	if err != nil {
		return nil, err
	}
	white, err := compileList("whitelist", whitelist)
	if err != nil {
		return nil, err
	}
	return &Set{blacklist: black, whitelist: white}, nil
}

func compileList(list string, rs []Rule) ([]matcher, error) {
	ms := make([]matcher, 0, len(rs))
	for i, r := range rs {
		m, field, err := compileRule(r)
		if err != nil {
			return nil, &CompileError{List: list, Index: i, Field: field, Err: err}
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// compileRule compiles r; on failure it also names the faulty field.
func compileRule(r Rule) (matcher, string, error) {
	var m matcher
	var err error
	if m.method, err = compileExpr(r.Method); err != nil {
		return m, "method", err
	}
	if m.url, err = compileExpr(r.URL); err != nil {
		return m, "url", err
	}
	names := make([]string, 0, len(r.Headers))
	for name := range r.Headers {
		names = append(names, name)
	}
	slices.Sort(names) // report errors deterministically
	for _, name := range names {
		field := "headers." + name
		if name == "" {
			return m, field, errors.New("empty header name")
		}
		re, err := compileExpr(r.Headers[name])
		if err != nil {
			return m, field, err
		}
		if re != nil {
			m.headers = append(m.headers, headerMatcher{http.CanonicalHeaderKey(name), re})
		}
	}
	return m, "", nil
}

// compileExpr compiles a non-empty expression; "" gives a nil regexp.
func compileExpr(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		reason := err.Error()
		var se *syntax.Error
		if errors.As(err, &se) {
			reason = se.Code.String()
			if se.Expr != expr {
				reason += fmt.Sprintf(" in %q", se.Expr)
			}
		}
		return nil, fmt.Errorf("invalid regex %q: %s", expr, reason)
	}
	return re, nil
}

// Check decides whether a request may go to u. It returns nil when allowed,
// otherwise a *DeniedError wrapping ErrForbidden or ErrNotAllowed. A nil u
// is matched as the empty URL string; a nil h as a request without headers.
func (s *Set) Check(method string, u *url.URL, h http.Header) error {
	if s == nil {
		return nil
	}
	rawURL := ""
	if u != nil {
		rawURL = u.String()
	}
	for i := range s.blacklist {
		if s.blacklist[i].match(method, rawURL, h) {
			return &DeniedError{List: "blacklist", Index: i, Err: ErrForbidden}
		}
	}
	if len(s.whitelist) == 0 {
		return nil
	}
	for i := range s.whitelist {
		if s.whitelist[i].match(method, rawURL, h) {
			return nil
		}
	}
	return &DeniedError{List: "whitelist", Index: -1, Err: ErrNotAllowed}
}

func (m *matcher) match(method, rawURL string, h http.Header) bool {
	if m.method != nil && !m.method.MatchString(method) {
		return false
	}
	if m.url != nil && !m.url.MatchString(rawURL) {
		return false
	}
	for _, hm := range m.headers {
		if !hm.match(h) {
			return false
		}
	}
	return true
}

// match reports whether any value of the header matches; an absent header
// is tested as "".
func (hm headerMatcher) match(h http.Header) bool {
	values := headerValues(h, hm.name)
	if len(values) == 0 {
		return hm.re.MatchString("")
	}
	for _, v := range values {
		if hm.re.MatchString(v) {
			return true
		}
	}
	return false
}

// headerValues returns the values of the header with the canonical name. A
// key that differs only in case is included too: a header map built by hand
// (or decoded from a peer) might not be canonical, and must not slip past a
// rule that way.
func headerValues(h http.Header, name string) []string {
	values := h[name]
	for k, v := range h {
		if k != name && strings.EqualFold(k, name) {
			values = append(values[:len(values):len(values)], v...)
		}
	}
	return values
}
