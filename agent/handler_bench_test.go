package agent

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"testing"

	"github.com/wsp-tunnel/wsp/internal/config"
	"github.com/wsp-tunnel/wsp/internal/demoapi"
	"github.com/wsp-tunnel/wsp/internal/rules"
)

// benchTunnelled is a request as it arrives at the agent from a server.
func benchTunnelled(dest string) *http.Request {
	r := httptest.NewRequest("GET", "http://wsp-agent/v1/orders?customer=4711&limit=50", nil)
	r.Header.Set("X-Proxy-Destination", dest)
	r.Header.Set("X-Forwarded-For", "203.0.113.7")
	r.Header.Set("X-Forwarded-Host", "gateway.example.com")
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("User-Agent", "orders-client/2.3")
	return r
}

// BenchmarkAgentRewrite is the agent's header rewriting: the clone
// ReverseProxy makes, then rewriteToDestination.
func BenchmarkAgentRewrite(b *testing.B) {
	in := benchTunnelled("http://api.internal:8081/v1/orders?customer=4711&limit=50")
	dest, err := rules.ParseDestination(in.Header.Get("X-Proxy-Destination"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.WithValue(in.Context(), destKey{}, dest)
	in = in.WithContext(ctx)
	b.ReportAllocs()
	for b.Loop() {
		out := in.Clone(ctx)
		rewriteToDestination(&httputil.ProxyRequest{In: in, Out: out})
		if out.URL.Host != "api.internal:8081" {
			b.Fatalf("rewritten to %v", out.URL)
		}
	}
}

// BenchmarkHandlerHello is the agent's whole per-request work without the
// tunnel: rules, ReverseProxy and its keep-alive transport to a sample
// API on loopback (the API's own work is in the same process and counts).
func BenchmarkHandlerHello(b *testing.B) {
	api := httptest.NewServer(demoapi.Handler())
	defer api.Close()
	cfg := config.DefaultAgent()
	set, err := rules.Compile(nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := newHandler(cfg, set, slog.New(slog.DiscardHandler))
	defer h.proxy.Transport.(*http.Transport).CloseIdleConnections()
	dest := api.URL + "/hello"
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, benchTunnelled(dest))
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		io.Copy(io.Discard, w.Body)
	}
}
