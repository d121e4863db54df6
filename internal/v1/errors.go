package v1

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them (or a
// context error), so callers can branch with errors.Is.
var (
	// ErrConnBroken reports that a v1 exchange failed because of the
	// connection: a read or write failure, a protocol error (wrong opcode,
	// bad head, unsolicited message) or a body that does not match its
	// announced length. A server maps it to 502.
	ErrConnBroken = errors.New("v1: connection broken")

	// ErrHeadTooLarge reports a head message bigger than the configured cap.
	ErrHeadTooLarge = errors.New("v1: head message too large")

	// ErrBadGreeting reports a greeting that is not "<id>_<size>".
	ErrBadGreeting = errors.New("v1: bad greeting")

	// ErrPoolClosed reports that a ServerPool was closed.
	ErrPoolClosed = errors.New("v1: pool closed")
)

// HeadError reports a head message that could not be decoded or is invalid.
// Err is the underlying cause: a *json.SyntaxError or similar for bad JSON
// (its text is what a legacy agent puts in its 527 answer), ErrHeadTooLarge,
// or a validation error.
type HeadError struct {
	Kind string // "request" or "response"
	Err  error
}

func (e *HeadError) Error() string {
	return fmt.Sprintf("v1: bad %s head: %v", e.Kind, e.Err)
}

func (e *HeadError) Unwrap() error { return e.Err }

// brokenf returns an error wrapping ErrConnBroken and, when err is not nil,
// err as well.
func brokenf(what string, err error) error {
	if err == nil {
		return fmt.Errorf("%w: %s", ErrConnBroken, what)
	}
	return fmt.Errorf("%w: %s: %w", ErrConnBroken, what, err)
}
