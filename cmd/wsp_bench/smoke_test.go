package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsp-tunnel/wsp/internal/bench"
)

// TestSmoke runs the whole benchmark in its smoke mode, as the README's
// command does (building and running wsp_server and wsp_client), and
// checks that every figure and every output was produced. It asserts
// nothing about speed.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wsp_server and wsp_client and runs them for several seconds")
	}
	dir := t.TempDir()
	jsonPath, chartPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.svg")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	args := []string{"-smoke", "-json", jsonPath, "-chart", chartPath}
	if err := run(ctx, args, []string{os.Args[0]}, childEnv, &stdout, &stderr); err != nil {
		t.Fatalf("smoke run: %v\nprogress:\n%s", err, stderr.String())
	}
	t.Logf("progress:\n%s\ntable:\n%s", stderr.String(), stdout.String())

	var res bench.Results
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Figures) < 40 {
		t.Errorf("JSON has %d figures, want at least 40", len(res.Figures))
	}
	for _, f := range res.Figures {
		if len(f.Values) == 0 {
			t.Errorf("figure %s has no value", f.Key)
		}
		if !strings.Contains(stdout.String(), f.Label) {
			t.Errorf("table lacks %q", f.Label)
		}
	}
	if st, err := os.Stat(chartPath); err != nil || st.Size() == 0 {
		t.Errorf("chart: %v", err)
	}
	var again bytes.Buffer
	if err := run(ctx, []string{"-replot", jsonPath, "-chart", filepath.Join(dir, "again.png")}, nil, nil, &again, &stderr); err != nil {
		t.Fatalf("replot: %v", err)
	}
	if again.String() != stdout.String() {
		t.Errorf("replotted table differs:\n%s\nwant:\n%s", again.String(), stdout.String())
	}
}

// TestProfileMode runs a smaller smoke run with -profile: servers and
// agents in the bench binary's pprof roles, and every profile saved.
func TestProfileMode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes for several seconds")
	}
	profDir := filepath.Join(t.TempDir(), "prof")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	args := []string{"-smoke", "-profile", profDir, "-concurrency", "1,4", "-warmup", "50ms", "-duration", "100ms",
		"-transfer-size", "1MiB", "-soak-requests", "200", "-agents", "2", "-hol-concurrency", "2", "-settle", "50ms",
		"-tunnel-env", "GOGC=200,GODEBUG=madvdontneed=1"}
	if err := run(ctx, args, []string{os.Args[0]}, childEnv, &stdout, &stderr); err != nil {
		t.Fatalf("profile run: %v\nprogress:\n%s", err, stderr.String())
	}
	if want := "Servers and agents ran with: GOGC=200 GODEBUG=madvdontneed=1."; !strings.Contains(stdout.String(), want) {
		t.Errorf("table lacks %q:\n%s", want, stdout.String())
	}
	for _, tunnel := range []string{"v2", "v1"} {
		for _, role := range []string{"server", "agent"} {
			for _, kind := range []string{"cpu", "allocs", "allocs-before", "mutex"} {
				p := filepath.Join(profDir, tunnel+"-"+role+"."+kind+".pprof")
				if st, err := os.Stat(p); err != nil || st.Size() == 0 {
					t.Errorf("profile %s: %v", filepath.Base(p), err)
				}
			}
		}
	}
}

func TestFlagsAndHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, nil, nil, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"-smoke", "-json", "-chart", "-agents", "-soak-requests", "-transfer-size", "-concurrency", "-profile", "-tunnel-env"} {
		if !strings.Contains(stderr.String(), flag) {
			t.Errorf("-h does not document %s", flag)
		}
	}
	if err := run(context.Background(), []string{"-transfer-size", "lots"}, nil, nil, &stdout, &stderr); err == nil {
		t.Error("bad size accepted")
	}
	if err := run(context.Background(), []string{"-tunnel-env", "GOGC"}, nil, nil, &stdout, &stderr); err == nil {
		t.Error("-tunnel-env without = accepted")
	}
	if err := run(context.Background(), []string{"-rounds", "0"}, []string{"x"}, nil, &stdout, &stderr); err == nil {
		t.Error("zero rounds accepted")
	}
}

func TestParseSize(t *testing.T) {
	cases := []struct {
		in        string
		want      int64
		canonical string
	}{
		{"1GiB", 1 << 30, "1GiB"},
		{"8MiB", 8 << 20, "8MiB"},
		{"64KiB", 64 << 10, "64KiB"},
		{"1024", 1 << 10, "1KiB"},
		{"5B", 5, "5B"},
	}
	for _, tc := range cases {
		got, err := parseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d %v, want %d", tc.in, got, err, tc.want)
		}
		if back := formatSize(tc.want); back != tc.canonical {
			t.Errorf("formatSize(%d) = %q, want %q", tc.want, back, tc.canonical)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1TiB", "99999999999GiB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q): no error", bad)
		}
	}
}
