package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"

	"github.com/wsp-tunnel/wsp/internal/clock"
	"github.com/wsp-tunnel/wsp/internal/demoapi"
	v2 "github.com/wsp-tunnel/wsp/internal/v2"
	"github.com/wsp-tunnel/wsp/internal/wsconn"
)

// simStreams is the stream cap each simulated agent announces.
const simStreams = 64

// simDialers is how many simulated agents connect at once.
const simDialers = 32

// simAgent is a lightweight v2 agent: the real handshake (subprotocol
// wsp.v2, X-Wsp-Agent-Id), a yamux server session over wsconn, and an
// http.Server on its streams that answers from the sample API itself
// instead of proxying.
type simAgent struct {
	conn   *wsconn.Conn
	mux    *yamux.Session
	srv    *http.Server
	served chan struct{}
	hits   atomic.Int64
}

// fleet is the simulated agents of the scale phase.
type fleet struct {
	agents []*simAgent
}

var quietLog = slog.New(slog.DiscardHandler)

// dialFleet connects n simulated agents to the server's /register URL,
// each serving api. It fails (after closing those connected) if one
// cannot connect within ctx.
func dialFleet(ctx context.Context, registerURL string, n int, api http.Handler) (*fleet, error) {
	f := &fleet{agents: make([]*simAgent, n)}
	ids := make(chan int)
	errs := make(chan error, simDialers)
	var wg sync.WaitGroup
	for range min(simDialers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				a, err := dialSim(ctx, registerURL, fmt.Sprintf("bench-sim-%06d", i), api)
				if err != nil {
					errs <- err
					return
				}
				f.agents[i] = a
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case ids <- i:
		case err = <-errs:
			break feed
		}
	}
	close(ids)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	if err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func dialSim(ctx context.Context, registerURL, id string, api http.Handler) (*simAgent, error) {
	d := websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   4 << 10,
		WriteBufferSize:  4 << 10,
		Subprotocols:     []string{v2.Subprotocol},
	}
	h := http.Header{}
	h[v2.HeaderSecret] = []string{""}
	v2.Hello{ID: id, MaxStreams: simStreams}.Set(h)
	ws, resp, err := d.DialContext(ctx, registerURL, h)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", id, err)
	}
	if ws.Subprotocol() != v2.Subprotocol {
		ws.Close()
		return nil, errors.New("server did not select wsp.v2")
	}
	ws.SetReadLimit(4 * wsconn.DefaultMaxMessage)
	conn := wsconn.New(ws, wsconn.Config{})
	mux, err := yamux.Server(conn, v2.MuxConfig(30*time.Second, simStreams, quietLog))
	if err != nil {
		conn.Close()
		return nil, err
	}
	a := &simAgent{conn: conn, mux: mux, served: make(chan struct{})}
	a.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a.hits.Add(1)
			api.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(quietLog.Handler(), slog.LevelDebug),
	}
	go func() { defer close(a.served); a.srv.Serve(mux) }()
	return a, nil
}

func (a *simAgent) close() {
	a.srv.Close()
	a.mux.Close()
	a.conn.Close()
	<-a.served
}

// connected counts the agents whose session is still open.
func (f *fleet) connected() int {
	n := 0
	for _, a := range f.agents {
		if a != nil && !a.mux.IsClosed() {
			n++
		}
	}
	return n
}

// hit counts the agents that served at least one request.
func (f *fleet) hit() int {
	n := 0
	for _, a := range f.agents {
		if a != nil && a.hits.Load() > 0 {
			n++
		}
	}
	return n
}

// close disconnects every agent, concurrently.
func (f *fleet) close() {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, a := range f.agents {
		if a == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() { defer wg.Done(); a.close(); <-sem }()
	}
	wg.Wait()
}

// scale connects cfg.Agents simulated agents to a fresh server, records
// the server's RSS per agent, then spreads small GETs over them.
func (r *runner) scale(ctx context.Context) error {
	p, addr, _, err := r.e.startServer(ctx, "server-scale")
	if err != nil {
		return err
	}
	defer p.stop(stopTimeout)
	if !clock.Sleep(ctx, r.cfg.Settle) {
		return ctx.Err()
	}
	before, err := ReadMem(p.pid())
	if err != nil {
		return err
	}
	n := r.cfg.Agents
	r.logf("scale: connecting %d simulated v2 agents", n)
	dctx, cancel := context.WithTimeout(ctx, r.cfg.ScaleTimeout)
	f, err := dialFleet(dctx, "ws://"+addr+"/register", n, demoapi.Handler())
	cancel()
	if err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	defer f.close()
	if !clock.Sleep(ctx, r.cfg.Settle) {
		return ctx.Err()
	}
	after, err := ReadMem(p.pid())
	if err != nil {
		return err
	}
	t := &target{name: "scale", addr: addr, api: r.e.targets[0].addr, procs: []*proc{p}, tun: &tunnel{}}
	res, err := RunLoad(ctx, Load{Addr: t.addr, Request: t.request("/hello"), Concurrency: r.cfg.ScaleConcurrency, Warmup: r.cfg.Warmup, Duration: r.cfg.Duration})
	if err == nil {
		err = t.alive()
	}
	if err != nil {
		return fmt.Errorf("scale load: %w", err)
	}
	perAgent := float64(after.RSS-before.RSS) / 1024 / float64(n)
	r.res.add(keyScaleAgents, PathV2, float64(f.connected()))
	r.res.add(keyScaleRSS, PathV2, float64(after.RSS)/mib)
	r.res.add(keyScalePerAgent, PathV2, perAgent)
	r.res.add(keyScaleRPS, PathV2, res.RPS())
	r.res.add(keyScaleP99, PathV2, ms(res.Latency.Quantile(0.99)))
	r.res.add(keyScaleHit, PathV2, float64(f.hit()))
	r.logf("scale: %d agents, server RSS %.1f → %.1f MiB (%.1f KiB/agent); %.0f req/s, p99 %.3f ms, %d agents served, %d failed",
		f.connected(), float64(before.RSS)/mib, float64(after.RSS)/mib, perAgent, res.RPS(), ms(res.Latency.Quantile(0.99)), f.hit(), res.Errors)
	return nil
}
