package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsp-tunnel/wsp/internal/clock"
	"github.com/wsp-tunnel/wsp/internal/config"
	v1 "github.com/wsp-tunnel/wsp/internal/v1"
	v2 "github.com/wsp-tunnel/wsp/internal/v2"
)

// healthyAfter is how long a connection must last before the reconnect
// backoff starts again from its minimum.
const healthyAfter = 5 * time.Second

// ErrNotV2 is returned when protocol "v2" is required and the server
// selected no subprotocol.
var ErrNotV2 = errors.New("server does not speak wsp.v2")

// Agent connects to servers and serves their requests. Create it with New
// and run it with Run.
type Agent struct {
	// static after construction
	cfg     config.Agent
	log     *slog.Logger
	handler *handler
	dialer  websocket.Dialer
	freeze  *freezeWatch

	connected chan struct{} // closed at the first successful registration
	connOnce  sync.Once
}

// New returns an Agent for cfg. A nil logger discards logs.
func New(cfg config.Agent, log *slog.Logger) (*Agent, error) {
	set, err := config.Prepare(&cfg)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Agent{cfg: cfg, log: log.With("agent", cfg.ID), connected: make(chan struct{})}
	a.handler = newHandler(cfg, set, a.log)
	a.freeze = newFreezeWatch(cfg.PingInterval)
	a.handler.freeze = a.freeze
	a.dialer = websocket.Dialer{
		HandshakeTimeout: cfg.DialTimeout,
		ReadBufferSize:   32 << 10,
		WriteBufferSize:  64 << 10,
		// Idle v1 connections hold no write buffer.
		WriteBufferPool: &sync.Pool{},
	}
	return a, nil
}

// Connected is closed once the agent has registered with a server.
func (a *Agent) Connected() <-chan struct{} { return a.connected }

// Run connects to every target and serves requests until ctx is done. Then
// it stops taking requests, lets those in flight finish within the
// configured shutdown timeout, and returns nil once every goroutine ended.
func (a *Agent) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.freeze.run(ctx)
	}()
	for _, target := range a.cfg.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.runTarget(ctx, target)
		}()
	}
	wg.Wait()
	a.handler.active.wait()
	a.handler.closeIdle()
	return nil
}

// runTarget keeps one server connected until ctx is done.
func (a *Agent) runTarget(ctx context.Context, target string) {
	log := a.log.With("server", target)
	failures := 0
	for ctx.Err() == nil {
		start := time.Now()
		err := a.connectOnce(ctx, target, log)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) >= healthyAfter {
			failures = 0
		}
		failures++
		delay := backoff(failures, a.cfg.BackoffMin, a.cfg.BackoffMax)
		log.Warn("disconnected from server; reconnecting", "err", err, "attempt", failures, "in", delay.Round(time.Millisecond))
		if !clock.Sleep(ctx, delay) {
			return
		}
	}
}

// connectOnce dials the server and serves the connection until it ends.
func (a *Agent) connectOnce(ctx context.Context, target string, log *slog.Logger) error {
	offerV2 := a.cfg.Protocol != "v1"
	ws, err := a.dial(ctx, target, offerV2)
	if err != nil {
		return err
	}
	if ws.Subprotocol() == v2.Subprotocol {
		a.markConnected()
		log.Info("connected", "protocol", "v2")
		return a.serveV2(ctx, ws, log)
	}
	if a.cfg.Protocol == "v2" {
		ws.Close()
		return ErrNotV2
	}
	log.Info("connected", "protocol", "v1")
	a.markConnected()
	return a.runV1(ctx, target, ws)
}

// runV1 serves a v1 server until ctx is done, or until this process was
// frozen: then every connection of the pool is stale and it starts afresh.
func (a *Agent) runV1(ctx context.Context, target string, ws *websocket.Conn) error {
	epoch, thawed := a.freeze.current()
	vctx, cancel := context.WithCancel(withEpoch(ctx, epoch))
	defer cancel()
	go func() {
		select {
		case <-thawed:
			cancel()
		case <-vctx.Done():
		}
	}()
	err := v1.RunAgent(vctx, a.v1Config(target), ws)
	if err == nil && ctx.Err() == nil {
		return errFrozen
	}
	return err
}

func (a *Agent) markConnected() { a.connOnce.Do(func() { close(a.connected) }) }

func (a *Agent) v1Config(target string) v1.AgentConfig {
	return v1.AgentConfig{
		Dial: func(ctx context.Context) (*websocket.Conn, error) {
			return a.dial(ctx, target, false)
		},
		ID:              a.cfg.ID,
		IdleSize:        a.cfg.PoolIdleSize,
		MaxSize:         a.cfg.PoolMaxSize,
		Handler:         a.handler,
		Logger:          a.log.With("server", target, "protocol", "v1"),
		PingInterval:    a.cfg.PingInterval,
		ShutdownTimeout: a.cfg.ShutdownTimeout,
		Backoff: func(n int) time.Duration {
			return backoff(n, a.cfg.BackoffMin, a.cfg.BackoffMax)
		},
	}
}

// dial opens one WebSocket to target. The secret header is sent as written
// (X-SECRET-KEY), also when empty, as v1 agents do.
func (a *Agent) dial(ctx context.Context, target string, offerV2 bool) (*websocket.Conn, error) {
	h := http.Header{}
	h[v2.HeaderSecret] = []string{a.cfg.SecretKey}
	d := a.dialer
	if offerV2 {
		d.Subprotocols = []string{v2.Subprotocol}
		v2.Hello{ID: a.cfg.ID, MaxStreams: a.cfg.MaxStreams}.Set(h)
	}
	ws, resp, err := d.DialContext(ctx, target, h)
	if err != nil {
		return nil, dialError(target, resp, err)
	}
	return ws, nil
}

// dialError describes a failed dial, with the server's answer if any.
func dialError(target string, resp *http.Response, err error) error {
	if resp == nil {
		return fmt.Errorf("dial %s: %w", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return fmt.Errorf("dial %s: server answered %s: %s", target, resp.Status, strings.TrimSpace(string(body)))
}
