// Package cli holds what the wsp commands share: flag usage text and the
// logger set up from the config's log level.
package cli

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Logger returns a text logger on stderr at level ("debug", "info", "warn"
// or "error"; anything else means info).
func Logger(level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// Usage installs a -h text: what the command does, then its flags.
func Usage(fs *flag.FlagSet, about string) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s [flags]\n\n%s\n\nFlags:\n", fs.Name(), about)
		fs.PrintDefaults()
	}
}
