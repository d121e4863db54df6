package v1

import (
	"errors"
	"fmt"
	"io"
)

var errTooLong = errors.New("body longer than its Content-Length")

// exactReader reads one body message and checks it against the announced
// length: io.EOF is returned only for a complete body; a shorter one gives
// an error wrapping io.ErrUnexpectedEOF, a longer one errTooLong. It is not
// safe for concurrent use.
type exactReader struct {
	r     io.Reader // the message reader
	limit int64     // exact length when >= 0, -1 when unknown
	n     int64     // bytes read so far
	one   [1]byte   // probe for the end of the message
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.limit >= 0 {
		switch rem := e.limit - e.n; {
		case rem == 0:
			return e.probeEOF(0)
		case int64(len(p)) > rem:
			p = p[:rem]
		}
	}
	n, err := e.r.Read(p)
	e.n += int64(n)
	switch {
	case err == io.EOF && e.limit >= 0 && e.n < e.limit:
		return n, fmt.Errorf("%w: %d of %d bytes", io.ErrUnexpectedEOF, e.n, e.limit)
	case err == nil && e.limit >= 0 && e.n == e.limit:
		return e.probeEOF(n) // report EOF with the last bytes when possible
	}
	return n, err
}

// probeEOF checks whether the message ends here; n bytes were just read.
func (e *exactReader) probeEOF(n int) (int, error) {
	k, err := e.r.Read(e.one[:])
	switch {
	case k > 0:
		return n, fmt.Errorf("%w (%d)", errTooLong, e.limit)
	case err == nil:
		return n, nil // not ended yet: the next Read probes again
	}
	return n, err
}
