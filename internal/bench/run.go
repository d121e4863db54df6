package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/wsp-tunnel/wsp/internal/clock"
)

const (
	mib = 1 << 20
)

// runner holds the state of one run between its phases.
type runner struct {
	cfg   Config
	e     *env
	res   *Results
	start time.Time

	peaks   map[*proc]int64  // highest VmHWM seen per process
	failed  map[string]int64 // failed small requests per path
	sum     string           // what /sha256 answers for the upload
	noReset bool             // ResetPeak is not supported here
}

// Run starts the processes, measures every figure of cfg, stops the
// processes and returns the results. On error it returns what it had
// measured so far with the error.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	res := newResults()
	res.Meta = newMeta(cfg)
	declareFigures(res, cfg)
	r := &runner{cfg: cfg, res: res, start: time.Now(), peaks: make(map[*proc]int64), failed: make(map[string]int64)}
	r.logf("building and starting the API, two servers and two agents")
	e, err := setup(ctx, cfg)
	if err != nil {
		return res, err
	}
	defer e.close()
	r.e = e
	res.Meta.Processes = r.describe()
	r.sum = patternSum(cfg.TransferBytes)
	for _, step := range []func(context.Context) error{r.idle, r.rounds, r.soak, r.profile, r.scale} {
		if err := step(ctx); err != nil {
			return res, err
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
	}
	r.finish()
	return res, nil
}

func (r *runner) describe() string {
	if r.cfg.ProfileDir != "" {
		return "API, servers and agents are separate processes; servers and agents run the server and agent cores in wsp_bench's roles, with pprof"
	}
	return fmt.Sprintf("API (wsp_bench -role api), wsp_server %s and wsp_client %s as separate processes; one server+agent pair per protocol",
		r.e.cfg.ServerBin, r.e.cfg.ClientBin)
}

func (r *runner) logf(format string, args ...any) {
	if r.cfg.Progress == nil {
		return
	}
	fmt.Fprintf(r.cfg.Progress, "[%6.1fs] %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

// idle records each tunnel's RSS before any load.
func (r *runner) idle(ctx context.Context) error {
	if !clock.Sleep(ctx, r.cfg.Settle) {
		return ctx.Err()
	}
	for _, t := range r.e.tunnels() {
		s, a, err := r.mems(t)
		if err != nil {
			return err
		}
		r.res.add(keyIdleServer, t.name, float64(s.RSS)/mib)
		r.res.add(keyIdleAgent, t.name, float64(a.RSS)/mib)
		r.logf("idle RSS %s: server %.1f MiB, agent %.1f MiB", t.name, float64(s.RSS)/mib, float64(a.RSS)/mib)
	}
	return nil
}

// rounds runs every small-GET cell, the head-of-line cells and the
// transfers, path after path, round after round; each round starts with
// another path so that no path always goes first.
func (r *runner) rounds(ctx context.Context) error {
	for round := range r.cfg.Rounds {
		order := rotate(r.e.targets, round)
		for _, c := range r.cfg.Concurrency {
			for _, t := range order {
				if err := r.cell(ctx, round, t, c); err != nil {
					return err
				}
			}
		}
		for _, t := range order {
			if err := r.headOfLine(ctx, round, t); err != nil {
				return err
			}
		}
		for _, t := range order {
			if err := r.transfers(ctx, round, t); err != nil {
				return err
			}
		}
	}
	return nil
}

func rotate[T any](s []T, k int) []T {
	k %= len(s)
	return append(append([]T(nil), s[k:]...), s[:k]...)
}

// cell measures small GETs at concurrency c along t.
func (r *runner) cell(ctx context.Context, round int, t *target, c int) error {
	top := c == slicesMax(r.cfg.Concurrency)
	if top {
		r.resetPeaks(t)
	}
	var cpu0, cpu1 time.Duration
	var cpuErr error
	res, err := RunLoad(ctx, Load{
		Addr: t.addr, Request: t.request("/hello"), Concurrency: c,
		Warmup: r.cfg.Warmup, Duration: r.cfg.Duration,
		OnStart: func() { cpu0, cpuErr = t.cpu() },
		OnEnd: func() {
			if cpuErr == nil {
				cpu1, cpuErr = t.cpu()
			}
		},
	})
	if err == nil {
		err = cpuErr
	}
	if err == nil {
		err = t.alive()
	}
	if err != nil {
		return fmt.Errorf("%s c=%d: %w", t.name, c, err)
	}
	r.failed[t.name] += res.Errors
	r.res.add(keyRPS(c), t.name, res.RPS())
	r.res.add(keyP50(c), t.name, ms(res.Latency.Quantile(0.5)))
	r.res.add(keyP99(c), t.name, ms(res.Latency.Quantile(0.99)))
	var cpuPerReq float64
	if res.Requests > 0 {
		cpuPerReq = float64((cpu1 - cpu0).Microseconds()) / float64(res.Requests)
		r.res.add(keyCPU(c), t.name, cpuPerReq)
	}
	if top && t.tun != nil {
		s, a := r.readPeaks(t)
		r.res.add(keyPeakTopServer, t.name, float64(s)/mib)
		r.res.add(keyPeakTopAgent, t.name, float64(a)/mib)
	}
	r.logf("round %d/%d c=%-3d %-6s %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms  cpu %6.1f µs/req  failed %d",
		round+1, r.cfg.Rounds, c, t.name, res.RPS(), ms(res.Latency.Quantile(0.5)), ms(res.Latency.Quantile(0.99)), cpuPerReq, res.Errors)
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// headOfLine measures the p99 of small requests alone, then while a large
// download to a slow reader runs along the same path.
func (r *runner) headOfLine(ctx context.Context, round int, t *target) error {
	l := Load{Addr: t.addr, Request: t.request("/hello"), Concurrency: r.cfg.HOLConcurrency, Warmup: r.cfg.Warmup, Duration: r.cfg.Duration}
	base, err := RunLoad(ctx, l)
	if err != nil {
		return fmt.Errorf("%s head-of-line: %w", t.name, err)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slow, err := startSlowReader(sctx, t, r.cfg.SlowRate)
	if err != nil {
		return fmt.Errorf("%s slow download: %w", t.name, err)
	}
	var b0, b1 int64
	l.OnStart = func() { b0 = slow.read.Load() }
	l.OnEnd = func() { b1 = slow.read.Load() }
	during, err := RunLoad(ctx, l)
	cancel()
	if serr := slow.wait(); err == nil {
		err = serr
	}
	if err == nil {
		err = t.alive()
	}
	if err != nil {
		return fmt.Errorf("%s head-of-line: %w", t.name, err)
	}
	r.failed[t.name] += base.Errors + during.Errors
	p0, p1 := ms(base.Latency.Quantile(0.99)), ms(during.Latency.Quantile(0.99))
	r.res.add(keyHOLBase, t.name, p0)
	r.res.add(keyHOLDuring, t.name, p1)
	if p0 > 0 {
		r.res.add(keyHOLRatio, t.name, p1/p0)
	}
	r.res.add(keyHOLSlowBytes, t.name, float64(b1-b0)/1024)
	r.logf("round %d/%d HOL   %-6s p99 %7.3f ms alone, %7.3f ms with a slow download (it read %d KiB meanwhile)",
		round+1, r.cfg.Rounds, t.name, p0, p1, (b1-b0)>>10)
	return nil
}

// transfers measures one download and one upload along t.
func (r *runner) transfers(ctx context.Context, round int, t *target) error {
	n := r.cfg.TransferBytes
	down, err := download(ctx, t, n, r.cfg.TransferTimeout)
	if err != nil {
		return fmt.Errorf("%s download: %w", t.name, err)
	}
	up, err := upload(ctx, t, n, r.sum, r.cfg.TransferTimeout)
	if err != nil {
		return fmt.Errorf("%s upload: %w", t.name, err)
	}
	if err := t.alive(); err != nil {
		return err
	}
	r.res.add(keyDownload, t.name, down)
	r.res.add(keyUpload, t.name, up)
	r.logf("round %d/%d xfer  %-6s download %7.1f MiB/s, upload %7.1f MiB/s (%s each)", round+1, r.cfg.Rounds, t.name, down, up, sizeLabel(n))
	return nil
}

// soak sends SoakRequests small GETs along each tunnel and records the
// RSS of its server and agent before and after.
func (r *runner) soak(ctx context.Context) error {
	for _, t := range r.e.tunnels() {
		var s0, a0 Mem
		var memErr error
		res, err := RunLoad(ctx, Load{
			Addr: t.addr, Request: t.request("/hello"), Concurrency: r.cfg.SoakConcurrency,
			Warmup: r.cfg.Warmup, MaxRequests: r.cfg.SoakRequests, Timeout: r.cfg.SoakTimeout,
			OnStart: func() { s0, a0, memErr = r.mems(t) },
		})
		if err == nil {
			err = memErr
		}
		if err != nil {
			return fmt.Errorf("%s soak: %w", t.name, err)
		}
		if !clock.Sleep(ctx, r.cfg.Settle) {
			return ctx.Err()
		}
		s1, a1, err := r.mems(t)
		if err != nil {
			return err
		}
		if res.Requests < r.cfg.SoakRequests {
			r.res.Meta.Notes = append(r.res.Meta.Notes, fmt.Sprintf("%s soak: only %d of %d requests within %v", t.name, res.Requests, r.cfg.SoakRequests, r.cfg.SoakTimeout))
		}
		n := float64(max(res.Requests, 1))
		r.res.add(keySoakRPS, t.name, res.RPS())
		r.res.add(keySoakBeforeSrv, t.name, float64(s0.RSS)/mib)
		r.res.add(keySoakAfterSrv, t.name, float64(s1.RSS)/mib)
		r.res.add(keySoakGrowSrv, t.name, float64(s1.RSS-s0.RSS)/n)
		r.res.add(keySoakBeforeAg, t.name, float64(a0.RSS)/mib)
		r.res.add(keySoakAfterAg, t.name, float64(a1.RSS)/mib)
		r.res.add(keySoakGrowAg, t.name, float64(a1.RSS-a0.RSS)/n)
		r.logf("soak  %-6s %d requests at %.0f req/s (%d failed): server RSS %.1f → %.1f MiB, agent %.1f → %.1f MiB",
			t.name, res.Requests, res.RPS(), res.Errors, float64(s0.RSS)/mib, float64(s1.RSS)/mib, float64(a0.RSS)/mib, float64(a1.RSS)/mib)
	}
	return nil
}

// finish records the figures that sum up the whole run.
func (r *runner) finish() {
	for _, t := range r.e.targets {
		r.res.add(keyErrors, t.name, float64(r.failed[t.name]))
	}
	for _, t := range r.e.tunnels() {
		s, a := r.readPeaks(t)
		r.res.add(keyPeakServer, t.name, float64(max(s, r.peaks[t.tun.server]))/mib)
		r.res.add(keyPeakAgent, t.name, float64(max(a, r.peaks[t.tun.agent]))/mib)
	}
	r.res.Meta.LoadAvgAfter = firstLine("/proc/loadavg")
	if r.noReset {
		r.res.Meta.Notes = append(r.res.Meta.Notes, "this kernel cannot reset VmHWM: peaks at the top concurrency are peaks since start")
	}
}

// mems reads the memory of a tunnel's server and agent.
func (r *runner) mems(t *target) (server, agent Mem, err error) {
	if server, err = ReadMem(t.tun.server.pid()); err != nil {
		return
	}
	agent, err = ReadMem(t.tun.agent.pid())
	return
}

// resetPeaks folds the peaks so far into r.peaks and restarts VmHWM.
func (r *runner) resetPeaks(t *target) {
	if t.tun == nil {
		return
	}
	r.readPeaks(t)
	for _, p := range []*proc{t.tun.server, t.tun.agent} {
		if err := ResetPeak(p.pid()); err != nil {
			r.noReset = true
		}
	}
}

// readPeaks returns the current VmHWM of a tunnel's server and agent and
// folds them into r.peaks.
func (r *runner) readPeaks(t *target) (server, agent int64) {
	s, a, err := r.mems(t)
	if err != nil {
		return 0, 0
	}
	r.peaks[t.tun.server] = max(r.peaks[t.tun.server], s.Peak)
	r.peaks[t.tun.agent] = max(r.peaks[t.tun.agent], a.Peak)
	return s.Peak, a.Peak
}
