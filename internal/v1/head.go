package v1

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// DefaultMaxHeadBytes is the default cap on the size of one head message.
const DefaultMaxHeadBytes = 1 << 20

// RequestHead is the first message of an exchange (server to agent).
// Its JSON form is byte-identical to the legacy one: the fields in this
// order, no spaces, header keys sorted, every value an array, HTML
// characters escaped, and "Header":{} (never null) when there is none.
type RequestHead struct {
	Method        string
	URL           string
	Header        http.Header
	ContentLength int64 // -1 when unknown (chunked)
}

// ResponseHead is the first message of an answer (agent to server).
type ResponseHead struct {
	StatusCode    int
	Header        http.Header
	ContentLength int64 // -1 when unknown
}

// EncodeRequestHead validates h and returns its legacy JSON form.
func EncodeRequestHead(h RequestHead) ([]byte, error) {
	if err := h.validate(); err != nil {
		return nil, &HeadError{Kind: "request", Err: err}
	}
	h.Header = nonNil(h.Header)
	return json.Marshal(h)
}

// EncodeResponseHead validates h and returns its legacy JSON form.
func EncodeResponseHead(h ResponseHead) ([]byte, error) {
	if err := h.validate(); err != nil {
		return nil, &HeadError{Kind: "response", Err: err}
	}
	h.Header = nonNil(h.Header)
	return json.Marshal(h)
}

// DecodeRequestHead reads one request head message from r (at most maxBytes
// bytes, DefaultMaxHeadBytes when maxBytes <= 0) and validates it. The
// returned Header is never nil. Errors are *HeadError.
func DecodeRequestHead(r io.Reader, maxBytes int) (RequestHead, error) {
	var h RequestHead
	err := decodeHead(r, maxBytes, &h)
	if err == nil {
		err = h.validate()
	}
	if err != nil {
		return RequestHead{}, &HeadError{Kind: "request", Err: err}
	}
	h.Header = nonNil(h.Header)
	return h, nil
}

// DecodeResponseHead reads one response head message from r (at most
// maxBytes bytes, DefaultMaxHeadBytes when maxBytes <= 0) and validates it.
// The returned Header is never nil. Errors are *HeadError.
func DecodeResponseHead(r io.Reader, maxBytes int) (ResponseHead, error) {
	var h ResponseHead
	err := decodeHead(r, maxBytes, &h)
	if err == nil {
		err = h.validate()
	}
	if err != nil {
		return ResponseHead{}, &HeadError{Kind: "response", Err: err}
	}
	h.Header = nonNil(h.Header)
	return h, nil
}

// decodeHead reads at most maxBytes+1 bytes (never the whole of a bigger
// message) and unmarshals them the way the legacy code did, so that JSON
// error texts are the legacy ones.
func decodeHead(r io.Reader, maxBytes int, v any) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxHeadBytes
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(maxBytes)+1))
	if err != nil {
		return err
	}
	if len(b) > maxBytes {
		return ErrHeadTooLarge
	}
	return json.Unmarshal(b, v)
}

func (h *RequestHead) validate() error {
	switch {
	case !validToken(h.Method):
		return fmt.Errorf("invalid method %q", h.Method)
	case h.URL == "":
		return errors.New("empty URL")
	case h.ContentLength < -1:
		return fmt.Errorf("invalid ContentLength %d", h.ContentLength)
	}
	return validateHeader(h.Header)
}

func (h *ResponseHead) validate() error {
	switch {
	case h.StatusCode < 100 || h.StatusCode > 999:
		return fmt.Errorf("invalid StatusCode %d", h.StatusCode)
	case h.ContentLength < -1:
		return fmt.Errorf("invalid ContentLength %d", h.ContentLength)
	}
	return validateHeader(h.Header)
}

// validateHeader rejects field names that are not tokens and values that
// could split a header line (CR, LF, NUL). It is deliberately no stricter:
// whatever Go's HTTP client accepted from an API must pass.
func validateHeader(h http.Header) error {
	for name, values := range h {
		if !validToken(name) {
			return fmt.Errorf("invalid header name %q", name)
		}
		for _, v := range values {
			if strings.ContainsAny(v, "\r\n\x00") {
				return fmt.Errorf("invalid value for header %q", name)
			}
		}
	}
	return nil
}

// validToken reports whether s is an RFC 9110 token.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func nonNil(h http.Header) http.Header {
	if h == nil {
		return http.Header{}
	}
	return h
}
