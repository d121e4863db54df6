// Package server is the public side of wsp: an http.Handler that accepts
// agents on /register and proxies applications' requests from /request
// through them.
//
// The Server never listens by itself: mount it on any http.Server (see
// cmd/wsp_server) or on httptest in tests. Agents speaking the multiplexed
// v2 protocol (subprotocol "wsp.v2") get one yamux session per WebSocket;
// legacy agents (no subprotocol) join a v1 connection pool per agent id.
// Either way a request is proxied by one httputil.ReverseProxy whose
// Transport sends it over the connection the registry chose.
package server
