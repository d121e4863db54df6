//go:build race

package e2e

// raceEnabled: the race detector slows the tunnel several times, so the
// largest loads are scaled down under it (see crossTalkRequests).
const raceEnabled = true
