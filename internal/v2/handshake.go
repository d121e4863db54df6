// Package v2 holds what the server and the agent must agree on to open a v2
// connection: the WebSocket subprotocol and the handshake headers. The
// connection itself is a yamux session over the WebSocket (see wsconn).
package v2

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"unicode"
)

// Subprotocol is offered by a v2 agent and selected by a v2 server. A v1
// peer offers or selects none.
const Subprotocol = "wsp.v2"

// Handshake headers of the agent's upgrade request.
const (
	HeaderSecret     = "X-SECRET-KEY" // sent as written, as v1 agents do
	HeaderAgentID    = "X-Wsp-Agent-Id"
	HeaderMaxStreams = "X-Wsp-Max-Streams"
)

// Limits on handshake values.
const (
	MaxIDLength       = 128
	MaxStreamsLimit   = 65535
	DefaultMaxStreams = 1024
)

// ErrBadHello is wrapped by every handshake validation error.
var ErrBadHello = errors.New("invalid v2 handshake")

// Hello is what a v2 agent announces in its upgrade request.
type Hello struct {
	ID         string
	MaxStreams int
}

// ParseHello reads and validates the agent's handshake headers. A missing
// max-streams header means DefaultMaxStreams.
func ParseHello(h http.Header) (Hello, error) {
	id := h.Get(HeaderAgentID)
	if err := ValidateID(id); err != nil {
		return Hello{}, fmt.Errorf("%w: %s: %w", ErrBadHello, HeaderAgentID, err)
	}
	hello := Hello{ID: id, MaxStreams: DefaultMaxStreams}
	if v := h.Get(HeaderMaxStreams); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxStreamsLimit {
			return Hello{}, fmt.Errorf("%w: %s: want 1..%d, got %q", ErrBadHello, HeaderMaxStreams, MaxStreamsLimit, v)
		}
		hello.MaxStreams = n
	}
	return hello, nil
}

// Set writes the hello into an upgrade request's headers.
func (hello Hello) Set(h http.Header) {
	h.Set(HeaderAgentID, hello.ID)
	h.Set(HeaderMaxStreams, strconv.Itoa(hello.MaxStreams))
}

// ValidateID checks an agent id: non-empty, at most MaxIDLength bytes, no
// '_' (the v1 greeting separator), no spaces or control characters.
func ValidateID(id string) error {
	switch {
	case id == "":
		return errors.New("empty agent id")
	case len(id) > MaxIDLength:
		return fmt.Errorf("agent id longer than %d bytes", MaxIDLength)
	}
	for _, r := range id {
		if r == '_' || unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("agent id %q: character %q not allowed", id, r)
		}
	}
	return nil
}
