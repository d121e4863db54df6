package v1

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

const (
	// MaxIdleSize is the largest idle pool size accepted in a greeting.
	MaxIdleSize = 10000
	// maxIDLen bounds an agent id (a legacy id is a 36-byte UUID).
	maxIDLen = 256
)

// FormatGreeting returns the first message of a v1 agent connection,
// "<id>_<idleSize>".
func FormatGreeting(id string, idleSize int) string {
	return id + "_" + strconv.Itoa(idleSize)
}

// ParseGreeting parses "<id>_<idleSize>".
//
// The greeting is split at the LAST "_": the size is a number and never
// holds one, so an id may contain "_" (legacy ids are UUIDs and have none).
// The size must be plain ASCII digits (no sign) and at most MaxIdleSize; the
// id must be non-empty, at most 256 bytes, and free of control and
// whitespace characters. Errors wrap ErrBadGreeting.
func ParseGreeting(s string) (id string, idleSize int, err error) {
	i := strings.LastIndexByte(s, '_')
	if i < 0 {
		return "", 0, fmt.Errorf("%w: no '_' in %q", ErrBadGreeting, clip(s))
	}
	id, size := s[:i], s[i+1:]
	if err := checkID(id); err != nil {
		return "", 0, err
	}
	n, err := parseSize(size)
	if err != nil {
		return "", 0, err
	}
	return id, n, nil
}

func checkID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("%w: id must have 1 to %d bytes", ErrBadGreeting, maxIDLen)
	}
	for _, r := range id {
		if r == unicode.ReplacementChar || unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("%w: invalid character in id %q", ErrBadGreeting, clip(id))
		}
	}
	return nil
}

func parseSize(s string) (int, error) {
	if s == "" || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%w: size %q is not a non-negative integer", ErrBadGreeting, clip(s))
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > MaxIdleSize {
		return 0, fmt.Errorf("%w: size %q out of range 0..%d", ErrBadGreeting, clip(s), MaxIdleSize)
	}
	return n, nil
}

// clip shortens peer-controlled text before it goes into an error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
