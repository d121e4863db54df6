package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"testing"

	"github.com/wsp-tunnel/wsp/internal/config"
)

// BenchmarkAcquireRelease is choosing an agent and giving the slot back,
// as every request does, among n connected v2 agents.
func BenchmarkAcquireRelease(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			r := newRegistry(slog.New(slog.DiscardHandler))
			for i := range n {
				fakeSession(r, fmt.Sprintf("agent-%d", i), 1024)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				l, err := r.acquire(ctx)
				if err != nil {
					b.Fatal(err)
				}
				l.Release()
			}
		})
	}
}

// BenchmarkAcquireReleaseParallel is the same with every P choosing at
// once: the registry's one mutex is taken twice per request (acquire, and
// notify in Release).
func BenchmarkAcquireReleaseParallel(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			r := newRegistry(slog.New(slog.DiscardHandler))
			for i := range n {
				fakeSession(r, fmt.Sprintf("agent-%d", i), 1<<20)
			}
			acquireReleaseParallel(b, r, 32)
		})
	}
}

// BenchmarkAcquireContended has every slot taken but one, so requests
// wait for each other's Release: the wake-up path.
func BenchmarkAcquireContended(b *testing.B) {
	r := newRegistry(slog.New(slog.DiscardHandler))
	fakeSession(r, "only", 4)
	acquireReleaseParallel(b, r, 8)
}

// acquireReleaseParallel acquires and releases from p goroutines per P.
func acquireReleaseParallel(b *testing.B, r *registry, p int) {
	b.ReportAllocs()
	b.SetParallelism(p)
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			l, err := r.acquire(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			l.Release()
		}
	})
}

// benchIncoming is an application's request as the server receives it.
func benchIncoming(b *testing.B) *http.Request {
	r := httptest.NewRequest("GET", "http://gateway.example.com/request", nil)
	r.RemoteAddr = "203.0.113.7:51234"
	r.Header.Set("X-PROXY-DESTINATION", "http://api.internal:8081/v1/orders?customer=4711&limit=50")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Authorization", "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.c2lnbmF0dXJl")
	r.Header.Set("User-Agent", "orders-client/2.3")
	r.Header.Set("X-Request-Id", "7f3c9a1e-5b2d-4c8e-9f10-2a6b8d4e1c3f")
	return r
}

// BenchmarkDestination is parsing X-PROXY-DESTINATION and checking the
// server's rules (empty lists).
func BenchmarkDestination(b *testing.B) {
	s, err := New(config.DefaultServer(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := benchIncoming(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.destination(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRewrite is the header rewriting of the server's ReverseProxy:
// the clone ReverseProxy makes of the request, then rewrite (URL,
// X-Forwarded-*, X-Proxy-Destination).
func BenchmarkRewrite(b *testing.B) {
	s, err := New(config.DefaultServer(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	in := benchIncoming(b)
	dest, err := s.destination(in)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.WithValue(in.Context(), stateKey{}, &proxyState{dest: dest})
	in = in.WithContext(ctx)
	b.ReportAllocs()
	for b.Loop() {
		out := in.Clone(ctx)
		rewrite(&httputil.ProxyRequest{In: in, Out: out})
		if out.URL.Host != "api.internal:8081" {
			b.Fatalf("rewritten to %v", out.URL)
		}
	}
}
