// Package config loads the YAML config files of wsp_server (Server) and the
// agent wsp_client (Agent).
//
// The files of the legacy wsp load unchanged. Keys are lower-case; a key
// that is absent, or whose value is null, takes its default (DefaultServer,
// DefaultAgent); a key that is present must hold a valid value, so
// "poolidlesize: 0" is an error rather than a request for the default. An
// empty file gives the defaults. Durations are integer milliseconds.
//
// Decoding is strict: unknown keys, values of the wrong type, more than one
// YAML document, a top level that is not a mapping, anchors, aliases, merge
// keys and tags are errors. Integers must be written in decimal without
// leading zeros. Every error is an *Error naming the file, the line where
// known, and the key, e.g.
//
//	server.yaml: line 3: unknown key "portt"
//	agent.yaml: key "poolidlesize": must be <= poolmaxsize (20 > 10)
//	server.yaml: key "blacklist[0].url": invalid regex "(": missing closing )
//
// Validate checks a config built in code the same way; it does not fill in
// defaults, so start from DefaultServer or DefaultAgent.
//
// testdata/server.yaml and testdata/agent.yaml document every key.
package config
