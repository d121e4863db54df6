package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wsp-tunnel/wsp/internal/rules"
)

// protocols are the values of the agent's protocol key.
var protocols = []string{"auto", "v2", "v1"}

// serverProtocols are the values of the server's protocol key.
var serverProtocols = []string{"auto", "v1"}

// Validate checks every value and compiles the rules. It returns the first
// problem found, as an *Error naming the key.
func (c *Server) Validate() error {
	return firstError(
		checkHost("host", c.Host),
		checkRange("port", c.Port, 1, 65535),
		checkPositive("timeout", c.Timeout),
		checkNonNegative("idletimeout", c.IdleTimeout),
		checkSecret("secretkey", c.SecretKey),
		checkPositive("pinginterval", c.PingInterval),
		checkNonNegative("shutdowntimeout", c.ShutdownTimeout),
		checkNonNegative("readheadertimeout", c.ReadHeaderTimeout),
		checkNonNegative("idleconntimeout", c.IdleConnTimeout),
		checkAtLeast("maxheaderbytes", c.MaxHeaderBytes, 1),
		checkOneOf("protocol", c.Protocol, serverProtocols),
		checkOneOf("loglevel", c.LogLevel, logLevels),
		checkRules(c.Blacklist, c.Whitelist),
	)
}

// Validate checks every value and compiles the rules. It returns the first
// problem found, as an *Error naming the key.
func (c *Agent) Validate() error {
	return firstError(
		checkID("id", c.ID),
		checkTargets("targets", c.Targets),
		checkAtLeast("poolidlesize", c.PoolIdleSize, 1),
		checkAtLeast("poolmaxsize", c.PoolMaxSize, 1),
		checkPoolSizes(c.PoolIdleSize, c.PoolMaxSize),
		checkSecret("secretkey", c.SecretKey),
		checkOneOf("protocol", c.Protocol, protocols),
		checkRange("maxstreams", c.MaxStreams, 1, 65535),
		checkPositive("pinginterval", c.PingInterval),
		checkPositive("dialtimeout", c.DialTimeout),
		checkPositive("responsetimeout", c.ResponseTimeout),
		checkPositive("backoffmin", c.BackoffMin),
		checkPositive("backoffmax", c.BackoffMax),
		checkBackoff(c.BackoffMin, c.BackoffMax),
		checkNonNegative("shutdowntimeout", c.ShutdownTimeout),
		checkOneOf("loglevel", c.LogLevel, logLevels),
		checkRules(c.Blacklist, c.Whitelist),
	)
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func checkRange(key string, v, lo, hi int) error {
	if v < lo || v > hi {
		return keyError(key, "must be between %d and %d, got %d", lo, hi, v)
	}
	return nil
}

func checkAtLeast(key string, v, lo int) error {
	if v < lo {
		return keyError(key, "must be >= %d, got %d", lo, v)
	}
	return nil
}

func checkNonNegative(key string, d time.Duration) error {
	if d < 0 {
		return keyError(key, "must not be negative")
	}
	return nil
}

func checkPositive(key string, d time.Duration) error {
	if d == 0 {
		return keyError(key, "must be > 0")
	}
	return checkNonNegative(key, d)
}

func checkOneOf(key, v string, allowed []string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return keyError(key, "must be one of %s; got %q", strings.Join(allowed, ", "), v)
}

func checkPoolSizes(idle, maxSize int) error {
	if idle > maxSize {
		return keyError("poolidlesize", "must be <= poolmaxsize (%d > %d)", idle, maxSize)
	}
	return nil
}

func checkBackoff(lo, hi time.Duration) error {
	if hi < lo {
		return keyError("backoffmax", "must be >= backoffmin (%v < %v)", hi, lo)
	}
	return nil
}

// checkHost accepts a host name or IP address to listen on ("" for all).
func checkHost(key, host string) error {
	if hasSpaceOrControl(host) {
		return keyError(key, "must not contain spaces or control characters")
	}
	if strings.ContainsAny(host, "[]") {
		return keyError(key, "write an IPv6 address without brackets, got %q", host)
	}
	return nil
}

// checkSecret accepts what can travel in an HTTP header unchanged.
func checkSecret(key, secret string) error {
	if strings.ContainsFunc(secret, unicode.IsControl) || !utf8.ValidString(secret) {
		return keyError(key, "must not contain control characters or invalid UTF-8")
	}
	if strings.TrimSpace(secret) != secret {
		return keyError(key, "must not start or end with spaces")
	}
	return nil
}

// checkID accepts a name that fits the v1 greeting "<ID>_<SIZE>", a text
// WebSocket message.
func checkID(key, id string) error {
	switch {
	case id == "":
		return keyError(key, "must not be empty")
	case !utf8.ValidString(id):
		return keyError(key, "must be valid UTF-8")
	case strings.Contains(id, "_"):
		return keyError(key, `must not contain "_" (it ends the id in the v1 greeting), got %q`, id)
	case hasSpaceOrControl(id):
		return keyError(key, "must not contain spaces or control characters, got %q", id)
	}
	return nil
}

func hasSpaceOrControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	})
}

func checkTargets(key string, targets []string) error {
	if len(targets) == 0 {
		return keyError(key, "must list at least one server")
	}
	seen := make(map[string]int, len(targets))
	for i, t := range targets {
		item := fmt.Sprintf("%s[%d]", key, i)
		if err := checkTarget(item, t); err != nil {
			return err
		}
		if j, dup := seen[t]; dup {
			return keyError(item, "duplicate of %s[%d]", key, j)
		}
		seen[t] = i
	}
	return nil
}

func checkTarget(key, target string) error {
	u, err := url.Parse(target)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return keyError(key, "invalid URL %q: %v", target, err)
	}
	switch {
	case u.Scheme != "ws" && u.Scheme != "wss":
		return keyError(key, "must be a ws:// or wss:// URL, got %q", target)
	case u.Host == "" || u.Hostname() == "":
		return keyError(key, "missing host in %q", target)
	case u.User != nil:
		return keyError(key, "must not contain user credentials (use secretkey), got %q", target)
	}
	return nil
}

// checkRules compiles the rules to report invalid regular expressions.
func checkRules(blacklist, whitelist []rules.Rule) error {
	_, err := rules.Compile(blacklist, whitelist)
	var ce *rules.CompileError
	if errors.As(err, &ce) {
		return keyError(ce.Key(), "%v", ce.Err)
	}
	return err
}
