package main

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/wsp-tunnel/wsp/internal/bench"
)

// childEnv makes the test binary act as wsp_bench's child roles, as the
// real binary does with "-role". Under the race detector a child would
// sleep a second at exit; GORACE stops that.
var childEnv = []string{"WSP_BENCH_TEST_CHILD=1", "GORACE=atexit_sleep_ms=0"}

func TestMain(m *testing.M) {
	if os.Getenv("WSP_BENCH_TEST_CHILD") == "1" {
		if err := bench.RoleMain(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "role:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}
