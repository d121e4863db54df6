package server

import (
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/wsp-tunnel/wsp/internal/bufpool"
	v2 "github.com/wsp-tunnel/wsp/internal/v2"
)

// urlDest is a parsed, rule-checked destination.
type urlDest struct {
	u   *url.URL
	raw string // u.String(), computed once
}

type stateKey struct{}

// proxyState travels in the request context from handleRequest to the
// proxy's Rewrite and Transport.
type proxyState struct {
	lease lease
	dest  *urlDest
}

// target is the URL the outgoing request carries: the destination itself
// for v1, whose head names it; for v2 the same path and query on the
// tunnel host, since the stream's HTTP/1.1 must not dial or speak TLS to
// the destination (which travels in X-Proxy-Destination).
func (st *proxyState) target() *url.URL {
	d := st.dest.u
	if _, ok := st.lease.(*session); ok {
		return &url.URL{Scheme: "http", Host: tunnelHost, Path: d.Path, RawPath: d.RawPath, RawQuery: d.RawQuery}
	}
	u := *d
	return &u
}

func stateOf(r *http.Request) *proxyState {
	st, _ := r.Context().Value(stateKey{}).(*proxyState)
	return st
}

// leaseTransport sends each request over the lease its handler acquired.
type leaseTransport struct{}

func (leaseTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return stateOf(req).lease.RoundTrip(req)
}

func (s *Server) newProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:       rewrite,
		Transport:     leaseTransport{},
		FlushInterval: 0,
		BufferPool:    bufpool.New(32 << 10),
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ErrorHandler:  s.writeError,
	}
}

// rewrite points the outgoing request at the destination and sets the
// X-Forwarded headers. The destination also travels in X-Proxy-Destination,
// which the agent reads and removes. The agents' secret header is never
// forwarded, even when an application sends it.
func rewrite(pr *httputil.ProxyRequest) {
	st := stateOf(pr.In)
	pr.Out.URL = st.target()
	pr.Out.Host = ""
	pr.Out.Header.Del(v2.HeaderSecret)
	// ReverseProxy cloned the trailer map before its values arrived; share
	// the inbound one so that declared request trailers are forwarded.
	pr.Out.Trailer = pr.In.Trailer
	pr.SetXForwarded()
	pr.Out.Header.Set("X-Proxy-Destination", st.dest.raw)
}
