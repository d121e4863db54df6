package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type errorCase struct {
	name string
	yaml string
	want string // the whole message
}

func TestServerErrors(t *testing.T) {
	tests := []errorCase{
		// Decoding: the line is known.
		{"server protocol", "protocol: v2\n", `config.yaml: key "protocol": must be one of auto, v1; got "v2"`},
		{"unknown key", "port: 1\nhost: a\nportt: 2\n", `config.yaml: line 3: unknown key "portt"`},
		{"upper-case key", "Port: 1\n", `config.yaml: line 1: unknown key "Port" (keys are lower-case: "port")`},
		{"string for int", "port: abc\n", `config.yaml: line 1: key "port": expected an integer, got string "abc"`},
		{"quoted int", `port: "8080"`, `config.yaml: line 1: key "port": expected an integer, got string "8080"`},
		{"float for int", "port: 80.5", `config.yaml: line 1: key "port": expected an integer, got number 80.5`},
		{"list for int", "port: [1]", `config.yaml: line 1: key "port": expected an integer, got a list`},
		{"hex int", "port: 0x50", `config.yaml: line 1: key "port": expected a decimal integer without leading zeros, got 0x50`},
		{"octal-looking int", "timeout: 0100", `config.yaml: line 1: key "timeout": expected a decimal integer without leading zeros, got 0100`},
		{"huge int", "maxheaderbytes: 99999999999999999999", `config.yaml: line 1: key "maxheaderbytes": integer out of range: 99999999999999999999`},
		{"huge duration", "timeout: 9999999999999999", `config.yaml: line 1: key "timeout": duration out of range`},
		{"duration string", "timeout: 1s", `config.yaml: line 1: key "timeout": expected an integer (milliseconds), got string "1s"`},
		{"bool", "legacystatus: yes", `config.yaml: line 1: key "legacystatus": expected true or false, got string "yes"`},
		{"mapping for string", "host:\n  a: b\n", `config.yaml: line 2: key "host": expected a string, got a mapping`},
		{"duplicate key", "port: 1\nport: 2\n", `config.yaml: line 2: mapping key "port" already defined at [1:1]`},
		{"syntax", "port: [1\n", `config.yaml: line 1: sequence end token ']' not found`},
		{"top-level list", "- port: 1\n", `config.yaml: line 1: expected a mapping of keys to values, got a list`},
		{"top-level string", "port 8080\n", `config.yaml: line 1: expected a mapping of keys to values, got string "port 8080"`},
		{"two documents", "port: 1\n---\nport: 2\n", `config.yaml: line 3: more than one YAML document`},
		{"anchor", "host: &h a\n", `config.yaml: line 1: key "host": anchors and aliases are not supported`},
		{"tag", "port: !!int 5\n", `config.yaml: line 1: key "port": tags are not supported`},
		{"merge key", "<<: {port: 1}\n", `config.yaml: line 1: merge keys (<<) are not supported`},
		{"rules not a list", "blacklist: {url: x}\n", `config.yaml: line 1: key "blacklist": expected a list of rules, got a mapping`},
		{"rule not a mapping", "blacklist:\n  - x\n", `config.yaml: line 2: key "blacklist[0]": expected a rule (a mapping with method, url, headers), got string "x"`},
		{"null rule", "whitelist:\n  - {}\n  -\n", `config.yaml: line 3: key "whitelist[1]": must not be null`},
		{"unknown rule key", "blacklist:\n  - url: a\n    methods: GET\n", `config.yaml: line 3: key "blacklist[0]": unknown key "methods"`},
		{"headers not a mapping", "blacklist:\n  - headers: [a]\n", `config.yaml: line 2: key "blacklist[0].headers": expected a mapping of header names to regular expressions, got a list`},
		{"header value not a string", "blacklist:\n  - headers:\n      X-A: [a]\n", `config.yaml: line 3: key "blacklist[0].headers.X-A": expected a string, got a list`},
		// Validation: the key is known, not the line.
		{"port 0", "port: 0\n", `config.yaml: key "port": must be between 1 and 65535, got 0`},
		{"port too big", "port: 65536\n", `config.yaml: key "port": must be between 1 and 65535, got 65536`},
		{"negative timeout", "timeout: -1\n", `config.yaml: key "timeout": must not be negative`},
		{"zero timeout", "timeout: 0\n", `config.yaml: key "timeout": must be > 0`},
		{"zero pinginterval", "pinginterval: 0\n", `config.yaml: key "pinginterval": must be > 0`},
		{"negative idletimeout", "idletimeout: -5\n", `config.yaml: key "idletimeout": must not be negative`},
		{"negative shutdowntimeout", "shutdowntimeout: -5\n", `config.yaml: key "shutdowntimeout": must not be negative`},
		{"negative readheadertimeout", "readheadertimeout: -1\n", `config.yaml: key "readheadertimeout": must not be negative`},
		{"negative idleconntimeout", "idleconntimeout: -1\n", `config.yaml: key "idleconntimeout": must not be negative`},
		{"zero maxheaderbytes", "maxheaderbytes: 0\n", `config.yaml: key "maxheaderbytes": must be >= 1, got 0`},
		{"loglevel", "loglevel: verbose\n", `config.yaml: key "loglevel": must be one of debug, info, warn, error; got "verbose"`},
		{"host with space", "host: a b\n", `config.yaml: key "host": must not contain spaces or control characters`},
		{"host with brackets", "host: '[::1]'\n", `config.yaml: key "host": write an IPv6 address without brackets, got "[::1]"`},
		{"secret with newline", "secretkey: \"a\\nb\"\n", `config.yaml: key "secretkey": must not contain control characters or invalid UTF-8`},
		{"secret with spaces", "secretkey: ' a'\n", `config.yaml: key "secretkey": must not start or end with spaces`},
		{"bad url regex", "blacklist:\n  - url: '('\n", `config.yaml: key "blacklist[0].url": invalid regex "(": missing closing )`},
		{"bad method regex", "whitelist:\n  - {}\n  - method: '[a'\n", `config.yaml: key "whitelist[1].method": invalid regex "[a": missing closing ]`},
		{"bad header regex", "blacklist:\n  - headers: {X-A: '*'}\n", `config.yaml: key "blacklist[0].headers.X-A": invalid regex "*": missing argument to repetition operator`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseServer("config.yaml", []byte(tt.yaml))
			checkError(t, c, err, tt.want)
		})
	}
}

func TestAgentErrors(t *testing.T) {
	tests := []errorCase{
		{"unknown key", "id: a\nport: 1\n", `agent.yaml: line 2: unknown key "port"`},
		{"targets not a list", "targets: ws://a/register\n", `agent.yaml: line 1: key "targets": expected a list, got string "ws://a/register"`},
		{"target not a string", "targets:\n  - ws://a/\n  - {a: b}\n", `agent.yaml: line 3: key "targets[1]": expected a string, got a mapping`},
		{"null target", "targets: [ws://a/, ~]\n", `agent.yaml: line 1: key "targets[1]": must not be null`},
		{"no targets", "targets: []\n", `agent.yaml: key "targets": must list at least one server`},
		{"http target", "targets: [http://a/register]\n", `agent.yaml: key "targets[0]": must be a ws:// or wss:// URL, got "http://a/register"`},
		{"target without host", "targets: ['ws:///register']\n", `agent.yaml: key "targets[0]": missing host in "ws:///register"`},
		{"unparsable target", "targets: ['ws://a b/']\n", `agent.yaml: key "targets[0]": invalid URL "ws://a b/": invalid character " " in host name`},
		{"target with credentials", "targets: ['wss://u:p@a/']\n", `agent.yaml: key "targets[0]": must not contain user credentials (use secretkey), got "wss://u:p@a/"`},
		{"duplicate target", "targets: [ws://a/, ws://b/, ws://a/]\n", `agent.yaml: key "targets[2]": duplicate of targets[0]`},
		{"empty id", "id: ''\n", `agent.yaml: key "id": must not be empty`},
		{"id with underscore", "id: agent_1\n", `agent.yaml: key "id": must not contain "_" (it ends the id in the v1 greeting), got "agent_1"`},
		{"id with space", "id: 'agent 1'\n", `agent.yaml: key "id": must not contain spaces or control characters, got "agent 1"`},
		{"id with tab", "id: \"a\\tb\"\n", `agent.yaml: key "id": must not contain spaces or control characters, got "a\tb"`},
		{"zero poolidlesize", "poolidlesize: 0\n", `agent.yaml: key "poolidlesize": must be >= 1, got 0`},
		{"zero poolmaxsize", "poolidlesize: 1\npoolmaxsize: 0\n", `agent.yaml: key "poolmaxsize": must be >= 1, got 0`},
		{"pool sizes", "poolidlesize: 20\npoolmaxsize: 10\n", `agent.yaml: key "poolidlesize": must be <= poolmaxsize (20 > 10)`},
		{"protocol", "protocol: v3\n", `agent.yaml: key "protocol": must be one of auto, v2, v1; got "v3"`},
		{"maxstreams", "maxstreams: 0\n", `agent.yaml: key "maxstreams": must be between 1 and 65535, got 0`},
		{"maxstreams high", "maxstreams: 65536\n", `agent.yaml: key "maxstreams": must be between 1 and 65535, got 65536`},
		{"zero pinginterval", "pinginterval: 0\n", `agent.yaml: key "pinginterval": must be > 0`},
		{"zero dialtimeout", "dialtimeout: 0\n", `agent.yaml: key "dialtimeout": must be > 0`},
		{"negative responsetimeout", "responsetimeout: -1\n", `agent.yaml: key "responsetimeout": must not be negative`},
		{"zero responsetimeout", "responsetimeout: 0\n", `agent.yaml: key "responsetimeout": must be > 0`},
		{"zero backoffmin", "backoffmin: 0\n", `agent.yaml: key "backoffmin": must be > 0`},
		{"backoff order", "backoffmin: 5000\nbackoffmax: 1000\n", `agent.yaml: key "backoffmax": must be >= backoffmin (1s < 5s)`},
		{"negative shutdowntimeout", "shutdowntimeout: -1\n", `agent.yaml: key "shutdowntimeout": must not be negative`},
		{"loglevel", "loglevel: INFO\n", `agent.yaml: key "loglevel": must be one of debug, info, warn, error; got "INFO"`},
		{"bad regex", "whitelist:\n  - url: 'a(?'\n", `agent.yaml: key "whitelist[0].url": invalid regex "a(?": invalid or unsupported Perl syntax in "(?"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseAgent("agent.yaml", []byte(tt.yaml))
			checkError(t, c, err, tt.want)
		})
	}
}

func checkError(t *testing.T, c any, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got %+v, want error %s", c, want)
	}
	if got := err.Error(); got != want {
		t.Errorf("error:\n got %s\nwant %s", got, want)
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Errorf("error is a %T, want *Error", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans several lines: %q", err)
	}
}

func TestValidateInCode(t *testing.T) {
	srv := DefaultServer()
	srv.IdleTimeout = -time.Second
	err := srv.Validate()
	if want := `key "idletimeout": must not be negative`; err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %s", err, want)
	}
	var zero Server
	if err := zero.Validate(); err == nil {
		t.Error("Server{}.Validate() = nil, want an error")
	}
	var agent Agent
	if err := agent.Validate(); err == nil {
		t.Error("Agent{}.Validate() = nil, want an error")
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{Msg: "m"}, "m"},
		{Error{File: "f", Msg: "m"}, "f: m"},
		{Error{File: "f", Line: 2, Msg: "m"}, "f: line 2: m"},
		{Error{File: "f", Line: 2, Key: "k", Msg: "m"}, `f: line 2: key "k": m`},
		{Error{Key: "k", Msg: "m"}, `key "k": m`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.err, got, tt.want)
		}
	}
}
