package v2

import (
	"log/slog"
	"time"

	"github.com/hashicorp/yamux"
)

// streamCloseTimeout bounds a half-closed stream (see MuxConfig).
const streamCloseTimeout = 5 * time.Second

// MuxConfig returns the yamux settings both roles use. The keep-alive ping
// goes every pingInterval and must be answered within pingInterval, so a
// dead connection is noticed within two intervals.
func MuxConfig(pingInterval time.Duration, maxStreams int, log *slog.Logger) *yamux.Config {
	c := yamux.DefaultConfig()
	c.AcceptBacklog = max(maxStreams, 256)
	c.EnableKeepAlive = true
	c.KeepAliveInterval = pingInterval
	c.ConnectionWriteTimeout = pingInterval
	// A stream closed locally waits this long for the peer's close before
	// yamux resets it. Its timer holds the stream, its receive buffer and
	// the whole session: with yamux's 5 minutes, every session that died
	// with half-closed streams stayed in memory for 5 minutes (hundreds of
	// MiB under agent churn). Our peers answer a close at once.
	c.StreamCloseTimeout = streamCloseTimeout
	c.LogOutput = nil
	c.Logger = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	return c
}
