// Package agent is the private side of wsp (wsp_client): it dials out to
// one or more servers, keeps those WebSockets open, and serves the requests
// that arrive on them against internal HTTP APIs, after checking its rules.
//
// Against a server that selects the "wsp.v2" subprotocol the agent accepts
// yamux streams and serves each with net/http; against a legacy server it
// falls back to a pool of v1 connections. Both paths call the same handler,
// so the rules and the proxying are the same code.
package agent
