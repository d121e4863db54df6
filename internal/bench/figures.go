package bench

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Meta says what a run ran on and how.
type Meta struct {
	Date          string   `json:"date"`
	GoVersion     string   `json:"go_version"`
	OS            string   `json:"os"`
	CPU           string   `json:"cpu"`
	NumCPU        int      `json:"num_cpu"`
	LoadAvgBefore string   `json:"loadavg_before"`
	LoadAvgAfter  string   `json:"loadavg_after"`
	LoadGenerator string   `json:"load_generator"`
	Processes     string   `json:"processes"`
	Rounds        int      `json:"rounds"`
	Concurrency   []int    `json:"concurrency"`
	Warmup        string   `json:"warmup"`
	Duration      string   `json:"duration"`
	TransferBytes int64    `json:"transfer_bytes"`
	SlowRate      int64    `json:"slow_reader_bytes_per_s"`
	SoakRequests  int64    `json:"soak_requests"`
	Agents        int      `json:"agents"`
	TunnelEnv     []string `json:"tunnel_env,omitempty"`
	Notes         []string `json:"notes,omitempty"`
}

const loadGenerator = "built-in Go load generator: one keep-alive HTTP/1.1 connection per concurrent worker, " +
	"prepared request bytes, minimal response parsing, per-worker log-linear latency histograms (<1% error)"

func newMeta(cfg Config) Meta {
	return Meta{
		Date:          time.Now().UTC().Format(time.RFC3339),
		GoVersion:     runtime.Version(),
		OS:            runtime.GOOS + "/" + runtime.GOARCH + " " + firstLine("/proc/sys/kernel/osrelease"),
		CPU:           cpuModel(),
		NumCPU:        runtime.NumCPU(),
		LoadAvgBefore: firstLine("/proc/loadavg"),
		LoadGenerator: loadGenerator,
		Rounds:        cfg.Rounds,
		Concurrency:   cfg.Concurrency,
		Warmup:        cfg.Warmup.String(),
		Duration:      cfg.Duration.String(),
		TransferBytes: cfg.TransferBytes,
		SlowRate:      cfg.SlowRate,
		SoakRequests:  cfg.SoakRequests,
		Agents:        cfg.Agents,
		TunnelEnv:     cfg.TunnelEnv,
	}
}

func firstLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Figure keys that depend on a concurrency.
func keyRPS(c int) string { return fmt.Sprintf("rps_c%d", c) }
func keyP50(c int) string { return fmt.Sprintf("p50_c%d", c) }
func keyP99(c int) string { return fmt.Sprintf("p99_c%d", c) }
func keyCPU(c int) string { return fmt.Sprintf("cpu_c%d", c) }

// Other figure keys.
const (
	keyDownload      = "download"
	keyUpload        = "upload"
	keyHOLBase       = "hol_p99_base"
	keyHOLDuring     = "hol_p99_during"
	keyHOLRatio      = "hol_ratio"
	keyHOLSlowBytes  = "hol_slow_kib"
	keyIdleServer    = "rss_idle_server"
	keyIdleAgent     = "rss_idle_agent"
	keyPeakTopServer = "rss_peak_top_server"
	keyPeakTopAgent  = "rss_peak_top_agent"
	keyPeakServer    = "rss_peak_server"
	keyPeakAgent     = "rss_peak_agent"
	keySoakRPS       = "soak_rps"
	keySoakBeforeSrv = "soak_rss_before_server"
	keySoakAfterSrv  = "soak_rss_after_server"
	keySoakGrowSrv   = "soak_growth_server"
	keySoakBeforeAg  = "soak_rss_before_agent"
	keySoakAfterAg   = "soak_rss_after_agent"
	keySoakGrowAg    = "soak_growth_agent"
	keyScaleAgents   = "scale_agents"
	keyScaleRSS      = "scale_server_rss"
	keyScalePerAgent = "scale_rss_per_agent"
	keyScaleRPS      = "scale_rps"
	keyScaleP99      = "scale_p99"
	keyScaleHit      = "scale_agents_hit"
	keyErrors        = "errors"
)

// declareFigures lists every figure a run of cfg must produce, in table order.
func declareFigures(r *Results, cfg Config) {
	for _, c := range cfg.Concurrency {
		r.declare(keyRPS(c), fmt.Sprintf("small GET req/s, c=%d", c), "req/s", false, allPaths)
	}
	for _, c := range cfg.Concurrency {
		r.declare(keyP50(c), fmt.Sprintf("p50 latency, c=%d", c), "ms", true, allPaths)
		r.declare(keyP99(c), fmt.Sprintf("p99 latency, c=%d", c), "ms", true, allPaths)
	}
	for _, c := range cfg.Concurrency {
		r.declare(keyCPU(c), fmt.Sprintf("CPU µs/request, c=%d (*)", c), "µs", true, allPaths)
	}
	size := sizeLabel(cfg.TransferBytes)
	r.declare(keyDownload, "GET "+size+" download, MiB/s", "MiB/s", false, allPaths)
	r.declare(keyUpload, "POST "+size+" upload (sha256), MiB/s", "MiB/s", false, allPaths)
	hc := cfg.HOLConcurrency
	r.declare(keyHOLBase, fmt.Sprintf("HOL: p99 c=%d alone, ms", hc), "ms", true, allPaths)
	r.declare(keyHOLDuring, fmt.Sprintf("HOL: p99 c=%d + slow download, ms", hc), "ms", true, allPaths)
	r.declare(keyHOLRatio, "HOL: p99 with / without", "×", true, allPaths)
	r.declare(keyHOLSlowBytes, "HOL: slow reader progress, KiB", "KiB", false, allPaths)
	r.declare(keyIdleServer, "RSS idle, server, MiB", "MiB", true, tunnelPaths)
	r.declare(keyIdleAgent, "RSS idle, agent, MiB", "MiB", true, tunnelPaths)
	top := slicesMax(cfg.Concurrency)
	r.declare(keyPeakTopServer, fmt.Sprintf("RSS peak at c=%d, server, MiB", top), "MiB", true, tunnelPaths)
	r.declare(keyPeakTopAgent, fmt.Sprintf("RSS peak at c=%d, agent, MiB", top), "MiB", true, tunnelPaths)
	r.declare(keyPeakServer, "RSS peak, whole run, server, MiB", "MiB", true, tunnelPaths)
	r.declare(keyPeakAgent, "RSS peak, whole run, agent, MiB", "MiB", true, tunnelPaths)
	soak := fmt.Sprintf("soak %d req", cfg.SoakRequests)
	r.declare(keySoakRPS, soak+": req/s", "req/s", false, tunnelPaths)
	r.declare(keySoakBeforeSrv, soak+": server RSS before, MiB", "MiB", true, tunnelPaths)
	r.declare(keySoakAfterSrv, soak+": server RSS after, MiB", "MiB", true, tunnelPaths)
	r.declare(keySoakGrowSrv, soak+": server growth, B/req", "B/req", true, tunnelPaths).zeroOK = true
	r.declare(keySoakBeforeAg, soak+": agent RSS before, MiB", "MiB", true, tunnelPaths)
	r.declare(keySoakAfterAg, soak+": agent RSS after, MiB", "MiB", true, tunnelPaths)
	r.declare(keySoakGrowAg, soak+": agent growth, B/req", "B/req", true, tunnelPaths).zeroOK = true
	r.declare(keyScaleAgents, "scale: simulated agents connected", "agents", false, v2Only)
	r.declare(keyScaleRSS, "scale: server RSS with them, MiB", "MiB", true, v2Only)
	r.declare(keyScalePerAgent, "scale: server RSS per agent, KiB", "KiB", true, v2Only).zeroOK = true
	r.declare(keyScaleRPS, fmt.Sprintf("scale: req/s, c=%d", cfg.ScaleConcurrency), "req/s", false, v2Only)
	r.declare(keyScaleP99, fmt.Sprintf("scale: p99 c=%d, ms", cfg.ScaleConcurrency), "ms", true, v2Only)
	r.declare(keyScaleHit, "scale: agents that served a request", "agents", false, v2Only)
	r.declare(keyErrors, "failed requests, all small-GET cells", "requests", true, allPaths).zeroOK = true
}

func slicesMax(s []int) int {
	m := 0
	for _, v := range s {
		m = max(m, v)
	}
	return m
}

func sizeLabel(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d B", n)
}
