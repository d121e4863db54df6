package bench

import (
	"errors"
	"io"
	"time"
)

// Config is one benchmark run. DefaultConfig is the full run; SmokeConfig
// a tiny one that only proves every figure is produced.
type Config struct {
	// Processes
	ServerBin, ClientBin string   // wsp_server and wsp_client; "" builds them into WorkDir
	Self                 []string // command that starts this binary; RoleMain's arguments are appended
	SelfEnv              []string // extra environment for Self (e.g. to select the role in a test binary)
	WorkDir              string   // binaries, configs and logs; "" means a new temporary directory, removed at the end
	ProfileDir           string   // if set: run server and agent as Self roles and write pprof profiles of a c=64 cell here
	TunnelEnv            []string // extra environment (KEY=VALUE) for the servers and agents only, e.g. GOMAXPROCS=1

	// Small requests
	Rounds      int   // interleaved rounds; figures are medians over rounds
	Concurrency []int // load cells
	Warmup      time.Duration
	Duration    time.Duration // measuring window of each cell
	Settle      time.Duration // pause before reading an idle or after-load RSS

	// Transfers and head-of-line
	TransferBytes   int64
	TransferTimeout time.Duration // per transfer
	SlowRate        int64         // bytes/s read by the slow reader of the head-of-line cell
	HOLConcurrency  int

	// Soak: RSS before and after SoakRequests small GETs (c=SoakConcurrency)
	SoakRequests    int64
	SoakConcurrency int
	SoakTimeout     time.Duration

	// Scale: simulated v2 agents against one more server
	Agents           int
	ScaleConcurrency int
	ScaleTimeout     time.Duration // for connecting the agents

	// v1 agent pool
	V1PoolIdle, V1PoolMax int

	Progress io.Writer // progress lines; nil: none
}

// DefaultConfig is the full benchmark.
func DefaultConfig() Config {
	return Config{
		Rounds:           3,
		Concurrency:      []int{1, 16, 64, 256},
		Warmup:           time.Second,
		Duration:         5 * time.Second,
		Settle:           time.Second,
		TransferBytes:    1 << 30,
		TransferTimeout:  3 * time.Minute,
		SlowRate:         64 << 10,
		HOLConcurrency:   16,
		SoakRequests:     100_000,
		SoakConcurrency:  64,
		SoakTimeout:      10 * time.Minute,
		Agents:           1000,
		ScaleConcurrency: 64,
		ScaleTimeout:     2 * time.Minute,
		V1PoolIdle:       64,
		V1PoolMax:        512,
	}
}

// SmokeConfig runs every phase in a few seconds.
func SmokeConfig() Config {
	c := DefaultConfig()
	c.Rounds = 1
	c.Warmup = 100 * time.Millisecond
	c.Duration = 300 * time.Millisecond
	c.Settle = 200 * time.Millisecond
	c.TransferBytes = 8 << 20
	c.TransferTimeout = 30 * time.Second
	c.SoakRequests = 2000
	c.SoakTimeout = 30 * time.Second
	c.Agents = 20
	c.ScaleTimeout = 30 * time.Second
	c.V1PoolIdle = 16
	return c
}

// Validate reports settings that cannot produce a run.
func (c *Config) Validate() error {
	var errs []error
	check := func(bad bool, msg string) {
		if bad {
			errs = append(errs, errors.New(msg))
		}
	}
	check(len(c.Self) == 0, "Self: the command to start this binary is needed for the API")
	check(c.Rounds < 1, "rounds must be at least 1")
	check(len(c.Concurrency) == 0, "at least one concurrency")
	for _, n := range c.Concurrency {
		check(n < 1 || n > 4096, "concurrency must be 1..4096")
	}
	check(c.Duration <= 0, "duration must be positive")
	check(c.Warmup < 0 || c.Settle < 0, "warm-up and settle must not be negative")
	check(c.TransferBytes < 1 || c.TransferBytes > 64<<30, "transfer size must be 1 byte..64 GiB")
	check(c.TransferTimeout <= 0 || c.SoakTimeout <= 0 || c.ScaleTimeout <= 0, "timeouts must be positive")
	check(c.SlowRate < 1024, "slow reader rate must be at least 1 KiB/s")
	check(c.HOLConcurrency < 1 || c.SoakConcurrency < 1 || c.ScaleConcurrency < 1, "concurrencies must be at least 1")
	check(c.SoakRequests < 1, "soak needs at least one request")
	check(c.Agents < 1 || c.Agents > 100_000, "agents must be 1..100000")
	check(c.V1PoolIdle < 1 || c.V1PoolMax < c.V1PoolIdle, "v1 pool: 1 <= idle <= max")
	return errors.Join(errs...)
}
