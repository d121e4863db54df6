package v1_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	v1 "github.com/wsp-tunnel/wsp/internal/v1"
)

// A server keeps one ServerPool per v1 agent id and proxies application
// requests through it with httputil.ReverseProxy.
func ExampleServerPool() {
	wake := make(chan struct{}, 1)
	pool := v1.NewServerPool("agent-1", 10, time.Minute, v1.ServerConnConfig{PingInterval: 30 * time.Second},
		func() {
			select {
			case wake <- struct{}{}:
			default:
			}
		})
	defer pool.Close()

	// On /register, after the upgrade and v1.ParseGreeting: pool.Add(ws).

	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL, _ = url.Parse(pr.In.Header.Get("X-Proxy-Destination"))
		},
		Transport: roundTripper(func(req *http.Request) (*http.Response, error) {
			var sc *v1.ServerConn
			for ok := false; !ok; {
				if sc, ok = pool.TryAcquire(); !ok {
					select {
					case <-wake:
					case <-pool.Done():
						return nil, v1.ErrPoolClosed
					case <-req.Context().Done():
						return nil, req.Context().Err()
					}
				}
			}
			resp, err := sc.RoundTrip(req)
			if err != nil {
				sc.Release()
				return nil, err // errors.Is(err, v1.ErrConnBroken): answer 502
			}
			resp.Body = &releaser{ReadCloser: resp.Body, release: sc.Release}
			return resp, nil
		}),
	}
	_ = proxy
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// releaser releases the connection when the proxy closes the body.
type releaser struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (r *releaser) Close() error {
	err := r.ReadCloser.Close()
	r.once.Do(r.release)
	return err
}

// An agent serves a legacy v1 server with its own handler.
func ExampleRunAgent() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dial := func(ctx context.Context) (*websocket.Conn, error) {
		h := http.Header{"X-SECRET-KEY": {"s3cret"}}
		ws, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://127.0.0.1:8080/register", h)
		return ws, err
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v1.IsLegacy(r.Context()) && r.Header.Get("X-Proxy-Destination") == "" {
			v1.WriteLegacyError(w, v1.StatusLegacyError, v1.LegacyNotAllowed)
			return
		}
		// ... check the rules, proxy to r.Header.Get("X-Proxy-Destination") ...
	})
	go v1.RunAgent(ctx, v1.AgentConfig{Dial: dial, ID: "agent-1", IdleSize: 10, MaxSize: 100, Handler: handler}, nil)
}
