package v2

import (
	"log/slog"
	"time"

	"github.com/hashicorp/yamux"
)

// MuxConfig returns the yamux settings both roles use. The keep-alive ping
// goes every pingInterval and must be answered within pingInterval, so a
// dead connection is noticed within two intervals.
func MuxConfig(pingInterval time.Duration, maxStreams int, log *slog.Logger) *yamux.Config {
	c := yamux.DefaultConfig()
	c.AcceptBacklog = max(maxStreams, 256)
	c.EnableKeepAlive = true
	c.KeepAliveInterval = pingInterval
	c.ConnectionWriteTimeout = pingInterval
	c.LogOutput = nil
	c.Logger = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	return c
}
