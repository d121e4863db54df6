package bench

import (
	"os"
	"testing"
	"time"
)

func TestParseStatus(t *testing.T) {
	in := "Name:\twsp_server\nVmPeak:\t 1262296 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t7\n"
	m, err := parseStatus([]byte(in))
	if err != nil || m.RSS != 10<<20 || m.Peak != 20<<20 {
		t.Fatalf("got %+v %v", m, err)
	}
	for _, bad := range []string{"VmRSS:\t1 kB\n", "VmRSS:\tx kB\nVmHWM:\t1 kB\n", "VmRSS:\t1 MB\nVmHWM:\t1 kB\n"} {
		if _, err := parseStatus([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseStat(t *testing.T) {
	in := "4242 (wsp (odd) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 50 0 0 20 0 9 0 12345 1000000 2000 18446744073709551615\n"
	got, err := parseStat([]byte(in))
	if want := 2 * time.Second; err != nil || got != want {
		t.Fatalf("got %v %v, want %v", got, err, want)
	}
	for _, bad := range []string{"no paren", "1 (x) S 1 2", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 x 5 0"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestReadOwnProcess(t *testing.T) {
	pid := os.Getpid()
	m, err := ReadMem(pid)
	if err != nil || m.RSS <= 0 || m.Peak < m.RSS {
		t.Fatalf("ReadMem: %+v %v", m, err)
	}
	if _, err := ReadCPU(pid); err != nil {
		t.Fatal(err)
	}
	if err := ResetPeak(pid); err != nil {
		t.Logf("ResetPeak unsupported here: %v", err)
	}
}
