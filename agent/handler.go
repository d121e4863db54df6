package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"

	"github.com/wsp-tunnel/wsp/internal/bufpool"
	"github.com/wsp-tunnel/wsp/internal/config"
	"github.com/wsp-tunnel/wsp/internal/rules"
	v1 "github.com/wsp-tunnel/wsp/internal/v1"
	v2 "github.com/wsp-tunnel/wsp/internal/v2"
)

// maxDrain bounds how much of a refused request's body is read and dropped.
const maxDrain = 4 << 20

// handler serves the requests that arrive from servers, over v2 streams and
// v1 connections alike: it checks the destination against the rules and
// proxies the request to the internal API.
type handler struct {
	// static after construction
	rules *rules.Set
	proxy *httputil.ReverseProxy
	log   *slog.Logger
	// freeze is set by New before the handler serves; nil in unit tests.
	freeze *freezeWatch

	active inflight
}

type destKey struct{}

func newHandler(cfg config.Agent, set *rules.Set, log *slog.Logger) *handler {
	h := &handler{rules: set, log: log}
	h.active.init()
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30e9}
	h.proxy = &httputil.ReverseProxy{
		Rewrite: rewriteToDestination,
		Transport: &http.Transport{
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   cfg.DialTimeout,
			ResponseHeaderTimeout: cfg.ResponseTimeout,
			ExpectContinueTimeout: 1e9,
			MaxIdleConns:          4096,
			MaxIdleConnsPerHost:   cfg.MaxStreams,
			IdleConnTimeout:       90e9,
			DisableCompression:    true,
			ForceAttemptHTTP2:     true,
		},
		FlushInterval: 0,
		BufferPool:    bufpool.New(32 << 10),
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandler:  h.writeError,
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.refuseStale(r)
	h.active.begin()
	defer h.active.end()
	dest, err := rules.ParseDestination(r.Header.Get("X-Proxy-Destination"))
	if err == nil {
		err = h.rules.Check(r.Method, dest, r.Header)
	}
	if err != nil {
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxDrain))
		}
		h.writeError(w, r, err)
		return
	}
	h.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), destKey{}, dest)))
}

// closeIdle closes the idle connections to the internal APIs, and those
// that turn idle from now on (until the next request), so that no
// goroutine of the agent outlives Run.
func (h *handler) closeIdle() {
	if t, ok := h.proxy.Transport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
}

// rewriteToDestination sends the request to the destination with the
// server's X-Forwarded headers, without X-Proxy-Destination and without the
// tunnel's secret header (a legacy server forwards what the application sent).
func rewriteToDestination(pr *httputil.ProxyRequest) {
	dest := pr.In.Context().Value(destKey{}).(*url.URL)
	u := *dest
	pr.Out.URL = &u
	pr.Out.Host = ""
	pr.Out.Header.Del("X-Proxy-Destination")
	pr.Out.Header.Del(v2.HeaderSecret)
	pr.Out.Trailer = pr.In.Trailer // filled when the body ends; ReverseProxy copied it empty
	for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if v, ok := pr.In.Header[k]; ok {
			pr.Out.Header[k] = v
		}
	}
}

// statusOf is the agent's one mapping from error to HTTP status.
func statusOf(err error) (int, string) {
	var ne net.Error
	switch {
	case errors.Is(err, rules.ErrBadDestination):
		return http.StatusBadRequest, "bad-destination"
	case errors.Is(err, rules.ErrForbidden), errors.Is(err, rules.ErrNotAllowed):
		return http.StatusForbidden, "denied"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return http.StatusGatewayTimeout, "upstream-timeout"
	default:
		return http.StatusBadGateway, "upstream-unreachable"
	}
}

// writeError answers a request the agent could not proxy. Over v1 every
// failure is a 527 with the legacy texts.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the server or application hung up
	}
	h.log.Info("request refused or failed", "method", r.Method, "destination", r.Header.Get("X-Proxy-Destination"), "err", err)
	if v1.IsLegacy(r.Context()) {
		v1.WriteLegacyError(w, 527, legacyText(r, err))
		return
	}
	status, code := statusOf(err)
	w.Header().Set("X-Wsp-Error", code)
	http.Error(w, "wsp agent: "+err.Error(), status)
}

// legacyText is the error body a v1 server expects.
func legacyText(r *http.Request, err error) string {
	switch {
	case errors.Is(err, rules.ErrForbidden):
		return "Destination is forbidden"
	case errors.Is(err, rules.ErrNotAllowed):
		return "Destination is not allowed\n"
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		op := r.Method
		if len(op) > 1 {
			op = op[:1] + strings.ToLower(op[1:])
		}
		err = &url.Error{Op: op, URL: r.Header.Get("X-Proxy-Destination"), Err: err}
	}
	return "Unable to execute request : " + err.Error() + "\n"
}

// inflight counts running requests so that shutdown can wait for them.
type inflight struct {
	mu   sync.Mutex
	n    int
	idle *sync.Cond
}

func (f *inflight) init() { f.idle = sync.NewCond(&f.mu) }

func (f *inflight) begin() {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
}

func (f *inflight) end() {
	f.mu.Lock()
	f.n--
	if f.n == 0 {
		f.idle.Broadcast()
	}
	f.mu.Unlock()
}

func (f *inflight) wait() {
	f.mu.Lock()
	for f.n > 0 {
		f.idle.Wait()
	}
	f.mu.Unlock()
}
