// Package demoapi is a small internal HTTP API for the demo, the tests and
// the benchmark: the kind of service an agent proxies to.
package demoapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// maxBytes caps /bytes so that a typo cannot fill a disk.
const maxBytes = 64 << 30

// Handler returns the API:
//
//	GET  /hello            200 "hello world\n"
//	ANY  /echo             the request body back, streamed
//	ANY  /sha256           the hex SHA-256 and length of the request body
//	GET  /bytes?n=N        N bytes (a repeating pattern), with Content-Length
//	GET  /status/{code}    an empty answer with that status
//	GET  /sleep?d=1s       waits d (or until the caller leaves), then 200
//	GET  /headers          the request's headers, one "Name: value" a line
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "hello world\n")
	})
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("/sha256", sum)
	mux.HandleFunc("/bytes", bytesHandler)
	mux.HandleFunc("/status/{code}", status)
	mux.HandleFunc("/sleep", sleep)
	mux.HandleFunc("/headers", headers)
	return mux
}

func echo(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	if r.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	}
	_, _ = io.Copy(w, r.Body)
}

func sum(w http.ResponseWriter, r *http.Request) {
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%s %d\n", hex.EncodeToString(h.Sum(nil)), n)
}

// Pattern returns byte i of what /bytes sends.
func Pattern(i int64) byte { return byte(i % 251) }

func bytesHandler(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
	if err != nil || n < 0 || n > maxBytes {
		http.Error(w, "n must be an integer from 0 to 64 GiB", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	buf := make([]byte, 251*128)
	for i := range buf {
		buf[i] = Pattern(int64(i))
	}
	for n > 0 {
		k := min(n, int64(len(buf)))
		if _, err := w.Write(buf[:k]); err != nil {
			return
		}
		n -= k
	}
}

func status(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.PathValue("code"))
	if err != nil || code < 200 || code > 999 {
		http.Error(w, "status must be 200..999", http.StatusBadRequest)
		return
	}
	w.WriteHeader(code)
}

func sleep(w http.ResponseWriter, r *http.Request) {
	d, err := time.ParseDuration(r.URL.Query().Get("d"))
	if err != nil || d < 0 || d > time.Hour {
		http.Error(w, "d must be a duration up to 1h", http.StatusBadRequest)
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		io.WriteString(w, "slept "+d.String()+"\n")
	case <-r.Context().Done():
	}
}

func headers(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "Host: %s\n", r.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			fmt.Fprintf(w, "%s: %s\n", k, v)
		}
	}
}
