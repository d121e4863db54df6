// Package cli holds what the wsp commands share: flag usage text and the
// logger set up from the config's log level.
package cli

import (
	"errors"
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

// ConfigFlag parses a command's only flag, -config FILE. help is true when
// -h was asked for (the usage was printed).
func ConfigFlag(name, about string, args []string) (path string, help bool, err error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&path, "config", "", "YAML config `file` (see README: Configuration); without it, the built-in defaults")
	Usage(fs, about)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", true, nil
		}
		return "", false, err
	}
	if fs.NArg() > 0 {
		return "", false, fmt.Errorf("unexpected argument %q (see -h)", fs.Arg(0))
	}
	return path, false, nil
}
