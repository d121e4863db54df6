// Package bench measures wsp on loopback: the direct path (load generator →
// internal API) against the tunnel over v2 and over v1, in one run,
// interleaved by rounds. It is the engine of cmd/wsp_bench.
//
// The API, the servers and the agents are separate processes: the API is
// the bench binary re-executed in its API role (demoapi.Handler), the
// servers and agents are the real wsp_server and wsp_client binaries (or,
// when profiling, the same cores run in the bench binary's server and agent
// roles with a pprof endpoint). One server+agent pair serves each protocol,
// so that CPU and memory figures belong to one protocol.
//
// The load generator is built in: one keep-alive HTTP/1.1 connection per
// concurrent worker, requests written from a prepared byte slice and
// responses parsed just enough to find their end (see Conn). Latencies go
// into a log-linear histogram (see Hist) per worker.
//
// Nothing here is a test: speeds are measured and reported, never asserted.
// Check reports figures that a run failed to produce.
package bench
