package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// errMalformed is wrapped by every response parsing error.
var errMalformed = errors.New("malformed HTTP response")

// Conn is one keep-alive HTTP/1.1 client connection of the load generator:
// a request is one Write of prepared bytes, and the response is parsed just
// enough to find its end (status line, Content-Length, chunked framing,
// Connection: close). It is not safe for concurrent use.
type Conn struct {
	nc net.Conn
	br *bufio.Reader
}

// dialConn connects to addr on loopback within timeout.
func dialConn(addr string, timeout time.Duration) (*Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return &Conn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10)}, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Do sends req (a complete HTTP/1.1 request) and reads the response to its
// end. keep is false when the connection cannot carry another request.
func (c *Conn) Do(req []byte) (status int, keep bool, err error) {
	if _, err := c.nc.Write(req); err != nil {
		return 0, false, err
	}
	status, _, keep, err = readResponse(c.br)
	return status, keep, err
}

// respHead is what readResponse needs from the header section.
type respHead struct {
	status  int
	length  int64 // -1: unknown
	chunked bool
	close   bool
}

// readResponse reads one response and discards its body. It returns the
// status, the body length and whether the connection is reusable.
func readResponse(br *bufio.Reader) (int, int64, bool, error) {
	h, err := readHead(br)
	if err != nil {
		return 0, 0, false, err
	}
	var n int64
	switch {
	case h.status < 200 || h.status == 204 || h.status == 304:
	case h.chunked:
		n, err = discardChunked(br)
	case h.length >= 0:
		n, err = discardN(br, h.length)
	default: // the body ends with the connection
		n, err = io.Copy(io.Discard, br)
		h.close = true
	}
	if err != nil {
		return h.status, n, false, err
	}
	return h.status, n, !h.close, nil
}

func readHead(br *bufio.Reader) (respHead, error) {
	line, err := readLine(br)
	if err != nil {
		return respHead{}, err
	}
	h := respHead{length: -1}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return h, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	if h.status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return h, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	h.close = line[7] == '0' // HTTP/1.0 closes unless told otherwise; we never ask
	for {
		line, err := readLine(br)
		if err != nil {
			return h, err
		}
		if len(line) == 0 {
			return h, nil
		}
		if err := h.field(line); err != nil {
			return h, err
		}
	}
}

// field records one header line.
func (h *respHead) field(line []byte) error {
	name, value, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return fmt.Errorf("%w: header line %q", errMalformed, line)
	}
	value = bytes.TrimSpace(value)
	switch {
	case bytes.EqualFold(name, []byte("Content-Length")):
		n, err := strconv.ParseInt(string(value), 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: Content-Length %q", errMalformed, value)
		}
		h.length = n
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		h.chunked = bytes.EqualFold(value, []byte("chunked"))
	case bytes.EqualFold(name, []byte("Connection")):
		h.close = bytes.EqualFold(value, []byte("close"))
	}
	return nil
}

// readLine returns one line without its CRLF. The slice is valid until the
// next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: line longer than %d bytes", errMalformed, br.Size())
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func discardN(br *bufio.Reader, n int64) (int64, error) {
	var done int64
	for done < n {
		k := int(min(n-done, 1<<30))
		m, err := br.Discard(k)
		done += int64(m)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return done, err
		}
	}
	return done, nil
}

func discardChunked(br *bufio.Reader) (int64, error) {
	var total int64
	for {
		line, err := readLine(br)
		if err != nil {
			return total, err
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return total, fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if n == 0 {
			return total, discardTrailers(br)
		}
		m, err := discardN(br, n)
		total += m
		if err != nil {
			return total, err
		}
		if line, err := readLine(br); err != nil || len(line) != 0 {
			return total, fmt.Errorf("%w: no CRLF after a chunk", errMalformed)
		}
	}
}

func discardTrailers(br *bufio.Reader) error {
	for {
		line, err := readLine(br)
		if err != nil || len(line) == 0 {
			return err
		}
	}
}

// getRequest returns a GET request for path on host, optionally with an
// X-PROXY-DESTINATION header (for the tunnel).
func getRequest(host, path, destination string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: wsp_bench\r\n", path, host)
	if destination != "" {
		fmt.Fprintf(&b, "X-PROXY-DESTINATION: %s\r\n", destination)
	}
	b.WriteString("\r\n")
	return b.Bytes()
}
