package cli

import (
	"bytes"
	"context"
	"flag"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLoggerLevels(t *testing.T) {
	cases := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError, "": slog.LevelInfo}
	for name, want := range cases {
		l := Logger(name)
		if !l.Enabled(context.Background(), want) || (want > slog.LevelDebug && l.Enabled(context.Background(), want-4)) {
			t.Errorf("level %q: not exactly %v", name, want)
		}
	}
}

func TestUsageNamesFlags(t *testing.T) {
	fs := flag.NewFlagSet("wsp_x", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	fs.String("config", "", "YAML config file")
	Usage(fs, "does things")
	fs.Usage()
	if s := out.String(); !strings.Contains(s, "Usage: wsp_x") || !strings.Contains(s, "does things") || !strings.Contains(s, "-config") {
		t.Fatalf("usage text: %q", s)
	}
}
