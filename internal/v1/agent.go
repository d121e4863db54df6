package v1

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Agent defaults (the legacy ones where there is one).
const (
	DefaultIdleSize     = 10
	DefaultMaxSize      = 100
	DefaultPingInterval = 30 * time.Second
	checkInterval       = time.Second // the pool is re-checked this often
)

// AgentConfig configures RunAgent. Zero values mean defaults.
type AgentConfig struct {
	// Dial opens one more upgraded v1 WebSocket to the server (the caller
	// does the HTTP handshake, X-SECRET-KEY included); RunAgent sends the
	// greeting. Required.
	Dial func(ctx context.Context) (*websocket.Conn, error)

	ID                string // agent id, sent in the greeting; required
	IdleSize, MaxSize int    // idle connections to keep (10), connections in all (100)

	Handler http.Handler // serves each request; required
	Logger  *slog.Logger // nil: discard

	// PingInterval: a WS ping is sent this often (default 30s, negative:
	// off); an idle connection with no pong or message within twice the
	// interval is closed.
	PingInterval time.Duration

	// Backoff gives the delay before redial attempt n (n >= 1) after
	// failures; reset after a successful dial. Default: DefaultBackoff.
	Backoff func(attempt int) time.Duration

	MaxHeadBytes int // cap on a request head; 0: DefaultMaxHeadBytes

	// ShutdownTimeout: when ctx ends, idle connections close at once and
	// busy ones may finish their exchange for this long before they are
	// cut. 0 cuts them at once.
	ShutdownTimeout time.Duration
}

// DefaultBackoff is exponential from 1s to 30s, with jitter in [d/2, d].
func DefaultBackoff(attempt int) time.Duration {
	d := 30 * time.Second
	if attempt <= 5 {
		d = time.Second << (attempt - 1)
	}
	return d/2 + rand.N(d/2+1)
}

// Validate reports a configuration RunAgent cannot run.
func (cfg AgentConfig) Validate() error {
	cfg = cfg.withDefaults()
	switch {
	case cfg.Dial == nil:
		return errors.New("v1: AgentConfig.Dial is nil")
	case cfg.Handler == nil:
		return errors.New("v1: AgentConfig.Handler is nil")
	case cfg.IdleSize < 0 || cfg.IdleSize > MaxIdleSize:
		return fmt.Errorf("v1: IdleSize %d out of range 0..%d", cfg.IdleSize, MaxIdleSize)
	case cfg.MaxSize < max(cfg.IdleSize, 1):
		return fmt.Errorf("v1: MaxSize %d below IdleSize %d", cfg.MaxSize, cfg.IdleSize)
	}
	return checkID(cfg.ID)
}

func (cfg AgentConfig) withDefaults() AgentConfig {
	if cfg.IdleSize == 0 {
		cfg.IdleSize = DefaultIdleSize
	}
	if cfg.MaxSize == 0 {
		cfg.MaxSize = max(DefaultMaxSize, cfg.IdleSize)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.PingInterval == 0:
		cfg.PingInterval = DefaultPingInterval
	case cfg.PingInterval < 0:
		cfg.PingInterval = 0
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	return cfg
}

// agent is the state of one RunAgent.
type agent struct {
	// static after construction
	cfg  AgentConfig
	ctx  context.Context // RunAgent's: when done, no new dials or exchanges
	hard context.Context // cancelled ShutdownTimeout after ctx: exchanges are cut
	wake chan struct{}   // cap 1: the pool changed
	dial chan dialResult // results of dial goroutines
	wg   sync.WaitGroup  // dial and connection goroutines

	mu    sync.Mutex
	conns map[*agentConn]bool // guarded by mu: connection -> idle

	// owned by the run loop
	dialing  int
	failures int
	retryAt  time.Time
}

type dialResult struct {
	ws  *websocket.Conn
	err error
}

// RunAgent keeps cfg.IdleSize idle v1 connections to one server, never more
// than cfg.MaxSize in all, and serves the requests they carry with
// cfg.Handler. An empty pool opens one connection first; a connection
// turning busy makes it open another when below the bounds; the pool is
// re-checked every second. first, if not nil, is an upgraded connection to
// use first (its greeting not yet sent).
//
// It returns nil when ctx is done, after every connection closed and all
// goroutines ended: idle connections close at once, busy ones when their
// exchange ends or cfg.ShutdownTimeout has passed (their requests then see
// their context cancelled). It returns an error only for an invalid cfg.
func RunAgent(ctx context.Context, cfg AgentConfig, first *websocket.Conn) error {
	if err := cfg.Validate(); err != nil {
		if first != nil {
			_ = first.Close()
		}
		return err
	}
	hard, cut := context.WithCancel(context.WithoutCancel(ctx))
	defer cut()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(cfg.ShutdownTimeout, cut) })
	defer stop()
	a := &agent{
		cfg: cfg.withDefaults(), ctx: ctx, hard: hard,
		wake: make(chan struct{}, 1), dial: make(chan dialResult),
		conns: make(map[*agentConn]bool),
	}
	defer a.wg.Wait()
	if first != nil {
		a.startConn(first)
	}
	a.loop()
	return nil
}

func (a *agent) loop() {
	for {
		a.fill()
		wait := time.NewTimer(a.nextCheck())
		select {
		case <-a.ctx.Done():
			wait.Stop()
			return
		case <-a.wake:
		case r := <-a.dial:
			a.dialed(r)
		case <-wait.C:
		}
		wait.Stop()
	}
}

func (a *agent) nextCheck() time.Duration {
	if d := time.Until(a.retryAt); d > 0 && d < checkInterval {
		return d
	}
	return checkInterval
}

// fill starts the dials the pool needs.
func (a *agent) fill() {
	if time.Now().Before(a.retryAt) || (a.failures > 0 && a.dialing > 0) {
		return // backing off, or probing with one dial
	}
	total, idle := a.counts()
	want := a.cfg.IdleSize - idle - a.dialing
	if total == 0 {
		want = 1 - a.dialing // an empty pool opens one first
	}
	want = min(want, a.cfg.MaxSize-total-a.dialing)
	if a.failures > 0 {
		want = min(want, 1)
	}
	for range max(want, 0) {
		a.startDial()
	}
}

func (a *agent) counts() (total, idle int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, isIdle := range a.conns {
		if isIdle {
			idle++
		}
	}
	return len(a.conns), idle
}

func (a *agent) startDial() {
	a.dialing++
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		ws, err := a.cfg.Dial(a.ctx)
		select {
		case a.dial <- dialResult{ws, err}:
		case <-a.ctx.Done():
			if ws != nil {
				_ = ws.Close()
			}
		}
	}()
}

func (a *agent) dialed(r dialResult) {
	a.dialing--
	if r.err != nil || r.ws == nil {
		a.failures++
		delay := a.cfg.Backoff(a.failures)
		a.retryAt = time.Now().Add(delay)
		a.cfg.Logger.Warn("v1: cannot connect to the server", "err", r.err, "attempt", a.failures, "retry_in", delay)
		return
	}
	a.failures, a.retryAt = 0, time.Time{}
	a.startConn(r.ws)
}

func (a *agent) startConn(ws *websocket.Conn) {
	ac := newAgentConn(a, ws)
	a.mu.Lock()
	a.conns[ac] = true // idle as soon as its greeting is sent
	a.mu.Unlock()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		ac.run()
		a.setState(ac, false, true)
	}()
}

// setState records that ac turned idle or busy, or is gone, and wakes the
// run loop.
func (a *agent) setState(ac *agentConn, idle, gone bool) {
	a.mu.Lock()
	if gone {
		delete(a.conns, ac)
	} else {
		a.conns[ac] = idle
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}
