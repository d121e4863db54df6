package bench

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Load is one cell of small requests: Concurrency workers, each with its
// own keep-alive connection, send Request to Addr back to back.
type Load struct {
	Addr        string
	Request     []byte
	Concurrency int
	Warmup      time.Duration // load before the measuring window opens
	Duration    time.Duration // measuring window (0: until MaxRequests)
	MaxRequests int64         // close the window after this many requests (0: no cap)
	Timeout     time.Duration // hard bound on warm-up + window (0: Warmup+Duration+30s)
	// OnStart and OnEnd run on the coordinating goroutine as the window
	// opens and closes (e.g. to sample CPU time). Either may be nil.
	OnStart, OnEnd func()
}

// LoadResult is what a Load measured inside its window.
type LoadResult struct {
	Requests int64 // completed with a 2xx status
	Errors   int64 // failed or answered with another status
	Elapsed  time.Duration
	Latency  Hist // of the 2xx requests
}

// RPS is requests per second over the window.
func (r *LoadResult) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Phases of a load run.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

const (
	dialTimeout = 5 * time.Second
	stopGrace   = 5 * time.Second // after the window: then connections are cut
)

// loadRun is the shared state of one Load.
type loadRun struct {
	l        Load
	phase    atomic.Int32
	measured atomic.Int64
	capped   chan struct{} // closed when MaxRequests were measured
	capOnce  sync.Once
	workers  []*worker
}

// worker owns one connection; the coordinator may cut it (abort) to end a
// request that outlives the run.
type worker struct {
	run *loadRun
	res LoadResult

	mu      sync.Mutex
	conn    *Conn // guarded by mu
	aborted bool  // guarded by mu
}

// RunLoad runs l and returns what was measured in its window. It returns
// early, with what it has, when ctx ends. An error means no connection
// could be made.
func RunLoad(ctx context.Context, l Load) (LoadResult, error) {
	if l.Concurrency < 1 {
		return LoadResult{}, errors.New("bench: concurrency must be at least 1")
	}
	if l.Duration <= 0 && l.MaxRequests <= 0 {
		return LoadResult{}, errors.New("bench: a load needs a duration or a request cap")
	}
	if l.Timeout <= 0 {
		l.Timeout = l.Warmup + l.Duration + 30*time.Second
	}
	r := &loadRun{l: l, capped: make(chan struct{})}
	if err := r.dialAll(); err != nil {
		return LoadResult{}, err
	}
	var wg sync.WaitGroup
	for _, w := range r.workers {
		wg.Add(1)
		go func() { defer wg.Done(); w.loop() }()
	}
	elapsed := r.coordinate(ctx)
	r.stop(&wg)
	var res LoadResult
	for _, w := range r.workers {
		res.Requests += w.res.Requests
		res.Errors += w.res.Errors
		res.Latency.Merge(&w.res.Latency)
	}
	res.Elapsed = elapsed
	return res, nil
}

// dialAll opens every worker's connection before the clock starts.
func (r *loadRun) dialAll() error {
	r.workers = make([]*worker, r.l.Concurrency)
	for i := range r.workers {
		c, err := dialConn(r.l.Addr, dialTimeout)
		if err != nil {
			for _, w := range r.workers[:i] {
				w.conn.Close()
			}
			return err
		}
		r.workers[i] = &worker{run: r, conn: c}
	}
	return nil
}

// coordinate walks the phases and returns the window's length.
func (r *loadRun) coordinate(ctx context.Context) time.Duration {
	hard := time.NewTimer(r.l.Timeout)
	defer hard.Stop()
	if !wait(ctx, hard.C, r.l.Warmup) {
		return 0
	}
	if r.l.OnStart != nil {
		r.l.OnStart()
	}
	start := time.Now()
	r.phase.Store(phaseMeasure)
	var window <-chan time.Time
	if r.l.Duration > 0 {
		t := time.NewTimer(r.l.Duration)
		defer t.Stop()
		window = t.C
	}
	select {
	case <-window:
	case <-r.capped:
	case <-hard.C:
	case <-ctx.Done():
	}
	r.phase.Store(phaseStop)
	elapsed := time.Since(start)
	if r.l.OnEnd != nil {
		r.l.OnEnd()
	}
	return elapsed
}

// wait sleeps d unless ctx or the hard timer ends first.
func wait(ctx context.Context, hard <-chan time.Time, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-hard:
	case <-ctx.Done():
	}
	return false
}

// stop waits for the workers to finish their request in flight, cutting
// the connections of those that take longer than stopGrace.
func (r *loadRun) stop(wg *sync.WaitGroup) {
	r.phase.Store(phaseStop)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		for _, w := range r.workers {
			w.abort()
		}
		<-done
	}
	for _, w := range r.workers {
		w.abort()
	}
}

func (w *worker) loop() {
	r := w.run
	for r.phase.Load() != phaseStop {
		c := w.current()
		if c == nil {
			return
		}
		t0 := time.Now()
		status, keep, err := c.Do(r.l.Request)
		d := time.Since(t0)
		if r.phase.Load() == phaseMeasure {
			w.count(status, err, d)
		}
		if err != nil || !keep {
			w.redial()
		}
	}
}

// count records one request finished inside the window.
func (w *worker) count(status int, err error, d time.Duration) {
	if err != nil || status < 200 || status > 299 {
		w.res.Errors++
		return
	}
	w.res.Requests++
	w.res.Latency.Record(d)
	if limit := w.run.l.MaxRequests; limit > 0 && w.run.measured.Add(1) >= limit {
		w.run.capOnce.Do(func() { close(w.run.capped) })
	}
}

func (w *worker) current() *Conn {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.aborted {
		return nil
	}
	return w.conn
}

// redial replaces a broken connection; a failed dial is retried after a
// pause on the next turn of the loop (or the run ends).
func (w *worker) redial() {
	w.mu.Lock()
	old := w.conn
	w.conn = nil
	w.mu.Unlock()
	if old != nil {
		old.Close()
	}
	for w.run.phase.Load() != phaseStop {
		c, err := dialConn(w.run.l.Addr, dialTimeout)
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		w.mu.Lock()
		if w.aborted {
			c.Close()
		} else {
			w.conn = c
		}
		w.mu.Unlock()
		return
	}
}

// abort closes the connection and keeps the worker from opening another.
func (w *worker) abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.aborted = true
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}
