package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// profileConcurrency is the cell profiled.
const profileConcurrency = 64

// profile runs one more c=64 cell per tunnel while it collects, from the
// server and the agent, a CPU profile of the window, allocation profiles
// at its start and end (compare them with pprof -base), and the mutex
// contention profile. It needs the processes in their pprof roles.
func (r *runner) profile(ctx context.Context) error {
	dir := r.cfg.ProfileDir
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	secs := max(1, int(math.Ceil(r.cfg.Duration.Seconds())))
	for _, t := range r.e.tunnels() {
		if err := r.profileTunnel(ctx, t, dir, secs); err != nil {
			return fmt.Errorf("%s profile: %w", t.name, err)
		}
	}
	return nil
}

func (r *runner) profileTunnel(ctx context.Context, t *target, dir string, secs int) error {
	ends := map[string]string{"server": t.tun.pprofServer, "agent": t.tun.pprofAgt}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	keep := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	file := func(role, kind string) string {
		return filepath.Join(dir, fmt.Sprintf("%s-%s.%s.pprof", t.name, role, kind))
	}
	l := Load{
		Addr: t.addr, Request: t.request("/hello"), Concurrency: profileConcurrency,
		Warmup: r.cfg.Warmup, Duration: time.Duration(secs)*time.Second + 200*time.Millisecond,
		OnStart: func() {
			for role, addr := range ends {
				keep(fetchProfile(ctx, addr, "allocs", file(role, "allocs-before")))
				wg.Add(1)
				go func() {
					defer wg.Done()
					keep(fetchProfile(ctx, addr, fmt.Sprintf("profile?seconds=%d", secs), file(role, "cpu")))
				}()
			}
		},
		OnEnd: func() {
			for role, addr := range ends {
				keep(fetchProfile(ctx, addr, "allocs", file(role, "allocs")))
				keep(fetchProfile(ctx, addr, "mutex", file(role, "mutex")))
			}
		},
	}
	res, err := RunLoad(ctx, l)
	wg.Wait()
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		return errs[0]
	}
	r.logf("profile %-6s c=%d: %.0f req/s, %d requests in the window; profiles in %s", t.name, profileConcurrency, res.RPS(), res.Requests, dir)
	r.res.Meta.Notes = append(r.res.Meta.Notes, fmt.Sprintf("profiled %s cell: %d requests in the %ds window", t.name, res.Requests, secs))
	return nil
}

var pprofClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// fetchProfile saves http://addr/debug/pprof/<what> to path.
func fetchProfile(ctx context.Context, addr, what, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/"+what, nil)
	if err != nil {
		return err
	}
	resp, err := pprofClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof %s: %s", what, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
