// Command wsp_bench measures wsp on loopback: small GETs, transfers,
// head-of-line blocking, memory, CPU per request and many agents, directly
// against a sample API and through the tunnel over v2 and v1, in one run.
// See docs/BENCHMARKS.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/wsp-tunnel/wsp/internal/bench"
	"github.com/wsp-tunnel/wsp/internal/cli"
)

const about = `wsp_bench starts a sample internal API, a wsp_server+wsp_client pair for v2 and
another for v1 (all separate processes on 127.0.0.1), and measures, interleaved
by rounds, the direct path (load generator -> API) and both tunnels:
small-GET req/s and p50/p99 latency per concurrency, download and upload MiB/s,
head-of-line blocking behind a slow download, RSS (idle, peak, after a soak),
CPU time per request, and a server with many simulated v2 agents. It prints a
table (medians, tunnel/direct ratios) and can write JSON and a chart.

Run it from the module (it builds wsp_server and wsp_client with "go build")
or pass -server-bin and -client-bin. Every load is bounded in count and time.
-smoke runs all of it tiny (1 round, 300ms cells, 8 MiB transfers, 2000 soak
requests, 20 agents) and fails if a figure is missing, zero or NaN.
"wsp_bench -role ..." is how wsp_bench starts its own child processes.`

func main() {
	if len(os.Args) > 1 && strings.TrimLeft(os.Args[1], "-") == "role" {
		if err := bench.RoleMain(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "wsp_bench role:", err)
			os.Exit(1)
		}
		return
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsp_bench:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], []string{exe}, nil, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "wsp_bench:", err)
		os.Exit(1)
	}
}

// outputs are where a run's results go besides the table.
type outputs struct {
	json, chart string
	replot      string
	quiet       bool
}

// run parses args, runs the benchmark and writes its outputs. self starts
// this program (selfEnv added to its environment) in a child role.
func run(ctx context.Context, args, self, selfEnv []string, stdout, stderr io.Writer) error {
	cfg := bench.DefaultConfig()
	smoke := slices.ContainsFunc(args, func(a string) bool {
		return strings.TrimLeft(a, "-") == "smoke" || strings.TrimLeft(a, "-") == "smoke=true"
	})
	if smoke {
		cfg = bench.SmokeConfig()
	}
	var out outputs
	fs := flag.NewFlagSet("wsp_bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bindFlags(fs, &cfg, &out)
	fs.Bool("smoke", false, "tiny run of every phase; exit non-zero if any figure is missing, zero or NaN")
	cli.Usage(fs, about)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if out.replot != "" {
		res, err := bench.ReadJSON(out.replot)
		if err != nil {
			return err
		}
		return writeOutputs(res, outputs{chart: out.chart}, stdout)
	}
	cfg.Self, cfg.SelfEnv = self, selfEnv
	if !out.quiet {
		cfg.Progress = stderr
	}
	res, err := bench.Run(ctx, cfg)
	if res != nil && len(res.Figures) > 0 {
		if werr := writeOutputs(res, out, stdout); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	if err := res.Check(); err != nil {
		return fmt.Errorf("figures missing or empty:\n%w", err)
	}
	return nil
}

func writeOutputs(res *bench.Results, out outputs, stdout io.Writer) error {
	if err := res.WriteTable(stdout); err != nil {
		return err
	}
	if out.json != "" {
		if err := res.WriteJSON(out.json); err != nil {
			return err
		}
	}
	if out.chart != "" {
		return res.WriteChart(out.chart)
	}
	return nil
}

// bindFlags defines every flag, with cfg's values as defaults.
func bindFlags(fs *flag.FlagSet, cfg *bench.Config, out *outputs) {
	fs.StringVar(&cfg.ServerBin, "server-bin", "", "wsp_server `binary` (default: go build it into the work dir)")
	fs.StringVar(&cfg.ClientBin, "client-bin", "", "wsp_client `binary` (default: go build it into the work dir)")
	fs.StringVar(&cfg.WorkDir, "workdir", "", "`dir` for binaries, configs and process logs (default: a temporary dir, removed at the end)")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "interleaved `rounds`; figures are their medians")
	fs.Func("concurrency", "comma-separated `list` of concurrencies of the small-GET cells (default "+joinInts(cfg.Concurrency)+")", func(s string) error {
		var err error
		cfg.Concurrency, err = parseInts(s)
		return err
	})
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "load before each measuring window")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measuring window of each cell")
	fs.DurationVar(&cfg.Settle, "settle", cfg.Settle, "pause before reading idle and after-load RSS")
	sizeFlag(fs, &cfg.TransferBytes, "transfer-size", "`size` of the download and the upload (e.g. 1GiB, 100MiB)")
	fs.DurationVar(&cfg.TransferTimeout, "transfer-timeout", cfg.TransferTimeout, "bound on each transfer")
	sizeFlag(fs, &cfg.SlowRate, "slow-rate", "`bytes` per second read by the slow reader of the head-of-line cell (e.g. 64KiB)")
	fs.IntVar(&cfg.HOLConcurrency, "hol-concurrency", cfg.HOLConcurrency, "concurrency of small requests in the head-of-line cell")
	fs.Int64Var(&cfg.SoakRequests, "soak-requests", cfg.SoakRequests, "small GETs per tunnel between the RSS readings of the soak (the issue's target: 1000000)")
	fs.IntVar(&cfg.SoakConcurrency, "soak-concurrency", cfg.SoakConcurrency, "concurrency of the soak")
	fs.DurationVar(&cfg.SoakTimeout, "soak-timeout", cfg.SoakTimeout, "bound on each soak")
	fs.IntVar(&cfg.Agents, "agents", cfg.Agents, "simulated v2 agents connected to one more server for the scale figures")
	fs.IntVar(&cfg.ScaleConcurrency, "scale-concurrency", cfg.ScaleConcurrency, "concurrency of the requests spread over the simulated agents")
	fs.DurationVar(&cfg.ScaleTimeout, "scale-timeout", cfg.ScaleTimeout, "bound on connecting the simulated agents")
	fs.IntVar(&cfg.V1PoolIdle, "v1-pool-idle", cfg.V1PoolIdle, "v1 agent: poolidlesize")
	fs.IntVar(&cfg.V1PoolMax, "v1-pool-max", cfg.V1PoolMax, "v1 agent: poolmaxsize")
	fs.StringVar(&cfg.ProfileDir, "profile", "", "save CPU, allocation and mutex profiles of one more c=64 cell per tunnel into `dir` (servers and agents then run in wsp_bench's pprof roles)")
	fs.Func("tunnel-env", "comma-separated KEY=VALUE `list` added to the environment of the servers and agents only (e.g. GOMAXPROCS=1)", func(s string) error {
		for _, kv := range strings.Split(s, ",") {
			if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
				return fmt.Errorf("%q is not KEY=VALUE", kv)
			}
			cfg.TunnelEnv = append(cfg.TunnelEnv, kv)
		}
		return nil
	})
	fs.StringVar(&out.json, "json", "", "write the results as JSON to `file`")
	fs.StringVar(&out.chart, "chart", "", "draw the chart to `file` (.png or .svg)")
	fs.BoolVar(&out.quiet, "quiet", false, "no progress lines on stderr")
	fs.StringVar(&out.replot, "replot", "", "run nothing: print the table of a JSON `file` from -json again (and draw -chart)")
}

// sizeFlag defines a byte-size flag accepting KiB, MiB and GiB suffixes.
func sizeFlag(fs *flag.FlagSet, dst *int64, name, usage string) {
	fs.Func(name, fmt.Sprintf("%s (default %s)", usage, formatSize(*dst)), func(s string) error {
		n, err := parseSize(s)
		if err == nil {
			*dst = n
		}
		return err
	})
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional KiB, MiB or GiB", s)
	}
	return n * mult, nil
}

func formatSize(n int64) string {
	for _, u := range sizeUnits {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("concurrency %q: %w", f, err)
		}
		out = append(out, n)
	}
	return out, nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
