package config

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/wsp-tunnel/wsp/internal/rules"
)

// Server is the configuration of wsp_server. The YAML key of each field is
// its lower-cased name; durations are written as integer milliseconds.
type Server struct {
	Host        string        // host: listen address, default "127.0.0.1"
	Port        int           // port: listen port, 1..65535, default 8080
	Timeout     time.Duration // timeout: how long a request waits for an agent, default 1s
	IdleTimeout time.Duration // idletimeout: idle agent connections beyond the pool size close after it, default 60s
	SecretKey   string        // secretkey: the X-SECRET-KEY agents must send, "" for none
	Blacklist   []rules.Rule  // blacklist: requests matching any rule are denied
	Whitelist   []rules.Rule  // whitelist: when non-empty, requests must match a rule

	PingInterval      time.Duration // pinginterval: WebSocket ping period, default 30s
	ShutdownTimeout   time.Duration // shutdowntimeout: grace period for in-flight requests, default 30s
	ReadHeaderTimeout time.Duration // readheadertimeout: public listener, default 10s
	IdleConnTimeout   time.Duration // idleconntimeout: keep-alive idle on the public listener, default 120s
	MaxHeaderBytes    int           // maxheaderbytes: public listener, default 1 MiB
	LegacyStatus      bool          // legacystatus: answer application errors with v1's 526
	Protocol          string        // protocol: auto (v2 and v1 agents) or v1 (act as a legacy server), default auto
	LogLevel          string        // loglevel: debug, info, warn or error, default info
}

// Agent is the configuration of wsp_client, the agent. The YAML key of each
// field is its lower-cased name; durations are written as integer milliseconds.
type Agent struct {
	ID           string       // id: the agent's name, default a random UUID
	Targets      []string     // targets: ws:// or wss:// URLs of the servers' /register
	PoolIdleSize int          // poolidlesize: idle v1 connections kept per server, default 10
	PoolMaxSize  int          // poolmaxsize: v1 connections per server at most, default 100
	SecretKey    string       // secretkey: sent as X-SECRET-KEY
	Blacklist    []rules.Rule // blacklist: requests matching any rule are denied
	Whitelist    []rules.Rule // whitelist: when non-empty, requests must match a rule

	Protocol        string        // protocol: auto, v2 or v1, default auto
	MaxStreams      int           // maxstreams: concurrent requests on one v2 connection, default 1024
	PingInterval    time.Duration // pinginterval: WebSocket ping period, default 30s
	DialTimeout     time.Duration // dialtimeout: dialing the internal API and the servers, default 10s
	ResponseTimeout time.Duration // responsetimeout: waiting for the internal API's headers, default 60s
	BackoffMin      time.Duration // backoffmin: first reconnect delay, default 200ms
	BackoffMax      time.Duration // backoffmax: longest reconnect delay, default 3s
	ShutdownTimeout time.Duration // shutdowntimeout: grace period for in-flight requests, default 30s
	LogLevel        string        // loglevel: debug, info, warn or error, default info
}

// DefaultServer returns the server configuration used for absent keys.
func DefaultServer() Server {
	return Server{
		Host:              "127.0.0.1",
		Port:              8080,
		Timeout:           1000 * time.Millisecond,
		IdleTimeout:       60 * time.Second,
		PingInterval:      30 * time.Second,
		ShutdownTimeout:   30 * time.Second,
		ReadHeaderTimeout: 10 * time.Second,
		IdleConnTimeout:   120 * time.Second,
		MaxHeaderBytes:    1 << 20,
		Protocol:          "auto",
		LogLevel:          "info",
	}
}

// DefaultAgent returns the agent configuration used for absent keys. Each
// call generates a fresh random ID.
func DefaultAgent() Agent {
	return Agent{
		ID:              uuid.NewString(),
		Targets:         []string{"ws://127.0.0.1:8080/register"},
		PoolIdleSize:    10,
		PoolMaxSize:     100,
		Protocol:        "auto",
		MaxStreams:      1024,
		PingInterval:    30 * time.Second,
		DialTimeout:     10 * time.Second,
		ResponseTimeout: 60 * time.Second,
		BackoffMin:      200 * time.Millisecond,
		BackoffMax:      3 * time.Second,
		ShutdownTimeout: 30 * time.Second,
		LogLevel:        "info",
	}
}

// LoadServer reads and validates a server config file.
func LoadServer(path string) (Server, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Server{}, err
	}
	return ParseServer(path, data)
}

// LoadAgent reads and validates an agent config file.
func LoadAgent(path string) (Agent, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Agent{}, err
	}
	return ParseAgent(path, data)
}

// ParseServer decodes and validates a server config; name is the file name
// used in error messages. Absent keys and keys set to null take their
// defaults. The error, if any, is an *Error.
func ParseServer(name string, data []byte) (Server, error) {
	c := DefaultServer()
	if err := decodeFile(name, data, serverFields(&c)); err != nil {
		return Server{}, err
	}
	if err := c.Validate(); err != nil {
		return Server{}, inFile(name, err)
	}
	return c, nil
}

// ParseAgent decodes and validates an agent config, like ParseServer.
func ParseAgent(name string, data []byte) (Agent, error) {
	c := DefaultAgent()
	if err := decodeFile(name, data, agentFields(&c)); err != nil {
		return Agent{}, err
	}
	if err := c.Validate(); err != nil {
		return Agent{}, inFile(name, err)
	}
	return c, nil
}

func serverFields(c *Server) []field {
	return []field{
		{"host", setString(&c.Host)},
		{"port", setInt(&c.Port)},
		{"timeout", setMillis(&c.Timeout)},
		{"idletimeout", setMillis(&c.IdleTimeout)},
		{"secretkey", setString(&c.SecretKey)},
		{"blacklist", setRules(&c.Blacklist)},
		{"whitelist", setRules(&c.Whitelist)},
		{"pinginterval", setMillis(&c.PingInterval)},
		{"shutdowntimeout", setMillis(&c.ShutdownTimeout)},
		{"readheadertimeout", setMillis(&c.ReadHeaderTimeout)},
		{"idleconntimeout", setMillis(&c.IdleConnTimeout)},
		{"maxheaderbytes", setInt(&c.MaxHeaderBytes)},
		{"legacystatus", setBool(&c.LegacyStatus)},
		{"protocol", setString(&c.Protocol)},
		{"loglevel", setString(&c.LogLevel)},
	}
}

func agentFields(c *Agent) []field {
	return []field{
		{"id", setString(&c.ID)},
		{"targets", setStrings(&c.Targets)},
		{"poolidlesize", setInt(&c.PoolIdleSize)},
		{"poolmaxsize", setInt(&c.PoolMaxSize)},
		{"secretkey", setString(&c.SecretKey)},
		{"blacklist", setRules(&c.Blacklist)},
		{"whitelist", setRules(&c.Whitelist)},
		{"protocol", setString(&c.Protocol)},
		{"maxstreams", setInt(&c.MaxStreams)},
		{"pinginterval", setMillis(&c.PingInterval)},
		{"dialtimeout", setMillis(&c.DialTimeout)},
		{"responsetimeout", setMillis(&c.ResponseTimeout)},
		{"backoffmin", setMillis(&c.BackoffMin)},
		{"backoffmax", setMillis(&c.BackoffMax)},
		{"shutdowntimeout", setMillis(&c.ShutdownTimeout)},
		{"loglevel", setString(&c.LogLevel)},
	}
}

// Addr is the address the server listens on, host:port.
func (c Server) Addr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// Rules compiles the server's blacklist and whitelist.
func (c *Server) Rules() (*rules.Set, error) {
	return rules.Compile(c.Blacklist, c.Whitelist)
}

// Rules compiles the agent's blacklist and whitelist.
func (c *Agent) Rules() (*rules.Set, error) {
	return rules.Compile(c.Blacklist, c.Whitelist)
}

// Checked is a Server or Agent configuration.
type Checked interface {
	Validate() error
	Rules() (*rules.Set, error)
}

// Prepare validates c and returns its compiled rules: what a server or an
// agent does before it starts.
func Prepare(c Checked) (*rules.Set, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c.Rules()
}

// logLevels are the values of the loglevel key.
var logLevels = []string{"debug", "info", "warn", "error"}

// ParseLogLevel maps a loglevel value to its slog level.
func ParseLogLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return slog.LevelInfo, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", s)
}
