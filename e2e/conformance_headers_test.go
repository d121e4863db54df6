package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsp-tunnel/wsp/internal/config"
)

// presentHeaders returns those of names that h carries.
func presentHeaders(h http.Header, names ...string) []string {
	var out []string
	for _, n := range names {
		if _, ok := h[http.CanonicalHeaderKey(n)]; ok {
			out = append(out, n)
		}
	}
	return out
}

// TestConformanceHopByHopRequest: hop-by-hop request headers, including
// those named in Connection, do not reach the backend; end-to-end ones do.
func TestConformanceHopByHopRequest(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		rc := newRecorder(nil)
		tn := startTunnel(t, options{protocol: proto, api: rc})
		req := tn.request("GET", "/hop", nil)
		req.Header.Set("Connection", "X-Drop-Me, Keep-Alive")
		req.Header.Set("X-Drop-Me", "1")
		req.Header.Set("Keep-Alive", "timeout=5")
		req.Header.Set("Proxy-Connection", "keep-alive")
		req.Header.Set("Proxy-Authorization", "Basic Zm9vOmJhcg==")
		req.Header.Set("Te", "gzip")
		req.Header.Set("Upgrade", "foo/1")
		req.Header.Set("X-Keep", "yes")
		resp := do(t, req)
		readAll(t, resp)
		rec := rc.next(t, time.Second)
		if got := presentHeaders(rec.Header, "Connection", "X-Drop-Me", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Te", "Upgrade"); len(got) > 0 {
			t.Errorf("hop-by-hop headers reached the backend: %v (all: %v)", got, rec.Header)
		}
		if rec.Header.Get("X-Keep") != "yes" {
			t.Errorf("end-to-end header X-Keep lost: %v", rec.Header)
		}
	})
}

// TestConformanceHopByHopResponse: hop-by-hop response headers, including
// those named in Connection, do not reach the application.
func TestConformanceHopByHopResponse(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		rc := newRecorder(func(w http.ResponseWriter, r *http.Request, rec *record) {
			h := w.Header()
			h.Set("Connection", "X-Resp-Drop")
			h.Set("X-Resp-Drop", "1")
			h.Set("Keep-Alive", "timeout=5")
			h.Set("Proxy-Authenticate", "Basic")
			h.Set("Proxy-Connection", "keep-alive")
			h.Set("Upgrade", "foo/1")
			h.Set("X-Resp-Keep", "yes")
			w.Write([]byte("body"))
		})
		tn := startTunnel(t, options{protocol: proto, api: rc})
		resp := do(t, tn.request("GET", "/hop", nil))
		if body := readAll(t, resp); body != "body" {
			t.Fatalf("body %q", body)
		}
		if got := presentHeaders(resp.Header, "X-Resp-Drop", "Keep-Alive", "Proxy-Authenticate", "Proxy-Connection", "Upgrade"); len(got) > 0 {
			t.Errorf("hop-by-hop headers reached the application: %v", got)
		}
		if c := resp.Header.Get("Connection"); strings.Contains(strings.ToLower(c), "x-resp-drop") {
			t.Errorf("Connection %q reached the application", c)
		}
		if resp.Header.Get("X-Resp-Keep") != "yes" {
			t.Errorf("end-to-end header X-Resp-Keep lost: %v", resp.Header)
		}
	})
}

// TestConformanceTunnelHeadersNeverReachBackend: X-PROXY-DESTINATION and
// the tunnel's secret header never reach the backend, not even when the
// application sends the secret itself.
func TestConformanceTunnelHeadersNeverReachBackend(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		rc := newRecorder(nil)
		tn := startTunnel(t, options{protocol: proto, api: rc,
			server: func(c *config.Server) { c.SecretKey = "s3cret" },
			agent:  func(c *config.Agent) { c.SecretKey = "s3cret" },
		})
		for _, appSends := range []bool{false, true} {
			req := tn.request("GET", "/creds", nil)
			if appSends {
				req.Header.Set("X-Secret-Key", "s3cret")
			}
			resp := do(t, req)
			readAll(t, resp)
			rec := rc.next(t, time.Second)
			if got := presentHeaders(rec.Header, "X-Proxy-Destination", "X-Secret-Key", "X-Wsp-Agent-Id", "X-Wsp-Max-Streams"); len(got) > 0 {
				t.Errorf("application sends secret %v: backend saw %v", appSends, got)
			}
			for k, vs := range rec.Header {
				for _, v := range vs {
					if strings.Contains(v, "s3cret") {
						t.Errorf("the secret reached the backend in %s: %q", k, v)
					}
				}
			}
		}
	})
}

// TestConformanceForwardedHeaders: the backend sees the application's
// address, the host it called and its scheme in X-Forwarded-For/-Host/
// -Proto. The server is the edge: values the application sent itself are
// replaced, not trusted, and Forwarded is removed.
func TestConformanceForwardedHeaders(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		rc := newRecorder(nil)
		tn := startTunnel(t, options{protocol: proto, api: rc})
		pub, _ := url.Parse(tn.pub.URL)
		for _, spoof := range []bool{false, true} {
			req := tn.request("GET", "/fwd", nil)
			if spoof {
				req.Header.Set("X-Forwarded-For", "203.0.113.7")
				req.Header.Set("X-Forwarded-Host", "spoofed.example")
				req.Header.Set("X-Forwarded-Proto", "https")
				req.Header.Set("Forwarded", "for=203.0.113.7")
			}
			readAll(t, do(t, req))
			h := rc.next(t, time.Second).Header
			want := map[string][]string{
				"X-Forwarded-For":   {"127.0.0.1"},
				"X-Forwarded-Host":  {pub.Host},
				"X-Forwarded-Proto": {"http"},
			}
			for k, v := range want {
				if !slices.Equal(h[k], v) {
					t.Errorf("spoofed %v: %s = %q, want %q", spoof, k, h[k], v)
				}
			}
			if f := h.Get("Forwarded"); f != "" {
				t.Errorf("spoofed %v: Forwarded %q reached the backend", spoof, f)
			}
		}
	})
}

// TestConformanceHostFromDestination: the backend's Host is the
// destination's host and port, whatever Host the application used.
func TestConformanceHostFromDestination(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto string) {
		rc := newRecorder(nil)
		tn := startTunnel(t, options{protocol: proto, api: rc})
		api, _ := url.Parse(tn.api.URL)
		for _, host := range []string{api.Host, "localhost:" + api.Port()} {
			req := tn.request("GET", "/", nil)
			req.Header.Set("X-PROXY-DESTINATION", "http://"+host+"/host")
			req.Host = "app.example"
			readAll(t, do(t, req))
			if got := rc.next(t, time.Second).Host; got != host {
				t.Errorf("backend Host %q, want %q", got, host)
			}
		}
	})
}

// TestConformanceRepeatedHeaders: repeated header lines stay separate and
// in order both ways; Set-Cookie lines (whose values contain commas) are
// never merged.
func TestConformanceRepeatedHeaders(t *testing.T) {
	cookies := []string{"a=1; Path=/", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT; HttpOnly", "c=3"}
	multi := []string{"z", "y, x", "w"}
	forEachProtocol(t, func(t *testing.T, proto string) {
		rc := newRecorder(func(w http.ResponseWriter, r *http.Request, rec *record) {
			w.Header()["Set-Cookie"] = cookies
			w.Header()["X-Multi"] = multi
			w.Write([]byte("ok"))
		})
		tn := startTunnel(t, options{protocol: proto, api: rc})
		req := tn.request("GET", "/multi", nil)
		req.Header["X-Multi"] = []string{"a", "b, c", "d"}
		req.Header["Accept"] = []string{"text/plain", "application/json"}
		resp := do(t, req)
		readAll(t, resp)
		h := rc.next(t, time.Second).Header
		if got := h["X-Multi"]; !slices.Equal(got, []string{"a", "b, c", "d"}) {
			t.Errorf("backend X-Multi %q", got)
		}
		if got := h["Accept"]; !slices.Equal(got, []string{"text/plain", "application/json"}) {
			t.Errorf("backend Accept %q", got)
		}
		if got := resp.Header["Set-Cookie"]; !slices.Equal(got, cookies) {
			t.Errorf("application Set-Cookie %q, want %q", got, cookies)
		}
		if got := resp.Header["X-Multi"]; !slices.Equal(got, multi) {
			t.Errorf("application X-Multi %q, want %q", got, multi)
		}
	})
}
