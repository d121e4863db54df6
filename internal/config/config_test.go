package config

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wsp-tunnel/wsp/internal/rules"
)

func TestLoadV1Server(t *testing.T) {
	got, err := LoadServer("testdata/v1-server.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultServer()
	want.Blacklist = []rules.Rule{{
		Method:  ".*",
		URL:     "^http(s)?://google.*",
		Headers: map[string]string{"X-CUSTOM-HEADER": "^value$"},
	}}
	want.Whitelist = []rules.Rule{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadServer:\n got %+v\nwant %+v", got, want)
	}
	if got.Addr() != "127.0.0.1:8080" {
		t.Errorf("Addr() = %q", got.Addr())
	}
}

func TestLoadV1Agent(t *testing.T) {
	got, err := LoadAgent("testdata/v1-agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultAgent()
	want.ID = "4b98d5a0-6794-421c-6a66-20f3edd81174"
	want.Blacklist = []rules.Rule{}
	want.Whitelist = []rules.Rule{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadAgent:\n got %+v\nwant %+v", got, want)
	}
}

// TestExamples loads every file in testdata; the documented examples must
// also set the defaults they claim to show.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("testdata: %v %v", files, err)
	}
	for _, f := range files {
		var err error
		if filepath.Base(f) == "server.yaml" || filepath.Base(f) == "v1-server.yaml" {
			_, err = LoadServer(f)
		} else {
			_, err = LoadAgent(f)
		}
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	srv, _ := LoadServer("testdata/server.yaml")
	srv.Blacklist, srv.Whitelist = nil, nil
	if want := DefaultServer(); !reflect.DeepEqual(srv, want) {
		t.Errorf("server.yaml does not show the defaults:\n got %+v\nwant %+v", srv, want)
	}
	agent, _ := LoadAgent("testdata/agent.yaml")
	want := DefaultAgent()
	agent.ID, agent.Blacklist, agent.Whitelist = want.ID, nil, nil
	if !reflect.DeepEqual(agent, want) {
		t.Errorf("agent.yaml does not show the defaults:\n got %+v\nwant %+v", agent, want)
	}
}

func TestDefaultsForEmptyFiles(t *testing.T) {
	for _, data := range []string{"", "\n", "# only a comment\n", "---\n", "null\n", "~"} {
		srv, err := ParseServer("s.yaml", []byte(data))
		if err != nil {
			t.Errorf("ParseServer(%q): %v", data, err)
		}
		if want := DefaultServer(); !reflect.DeepEqual(srv, want) {
			t.Errorf("ParseServer(%q) = %+v, want %+v", data, srv, want)
		}
		agent, err := ParseAgent("a.yaml", []byte(data))
		if err != nil {
			t.Errorf("ParseAgent(%q): %v", data, err)
		}
		want := DefaultAgent()
		want.ID = agent.ID
		if !reflect.DeepEqual(agent, want) {
			t.Errorf("ParseAgent(%q) = %+v, want %+v", data, agent, want)
		}
		if _, err := uuid.Parse(agent.ID); err != nil {
			t.Errorf("default id %q is not a UUID: %v", agent.ID, err)
		}
	}
}

func TestDefaultAgentIDsDiffer(t *testing.T) {
	if a, b := DefaultAgent().ID, DefaultAgent().ID; a == b {
		t.Errorf("two default ids are equal: %q", a)
	}
}

func TestDefaultsValidate(t *testing.T) {
	srv, agent := DefaultServer(), DefaultAgent()
	if err := srv.Validate(); err != nil {
		t.Errorf("DefaultServer().Validate() = %v", err)
	}
	if err := agent.Validate(); err != nil {
		t.Errorf("DefaultAgent().Validate() = %v", err)
	}
}

func TestParseServerValues(t *testing.T) {
	data := `
host: ""
port: 9000
timeout: 250
idletimeout: 0
secretkey: 's3cret'
pinginterval: 5000
shutdowntimeout: 0
readheadertimeout: 2000
idleconntimeout: 0
maxheaderbytes: 4096
legacystatus: true
protocol: v1
loglevel: debug
blacklist:
whitelist:
  - {}
  - method: ~
    url: "^http://a/"
    headers: {X-A: "1", x-b: ~}
`
	got, err := ParseServer("s.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := Server{
		Host: "", Port: 9000, Timeout: 250 * time.Millisecond, SecretKey: "s3cret",
		PingInterval: 5 * time.Second, ReadHeaderTimeout: 2 * time.Second,
		MaxHeaderBytes: 4096, LegacyStatus: true, Protocol: "v1", LogLevel: "debug",
		Whitelist: []rules.Rule{{}, {URL: "^http://a/", Headers: map[string]string{"X-A": "1", "x-b": ""}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseServer:\n got %+v\nwant %+v", got, want)
	}
	if got.Addr() != ":9000" {
		t.Errorf("Addr() = %q, want :9000", got.Addr())
	}
}

func TestParseAgentValues(t *testing.T) {
	data := `
id: 123
targets: [ws://a:1/register, "wss://b/wsp/register"]
poolidlesize: 1
poolmaxsize: 1
secretkey: 42
protocol: v1
maxstreams: 1
pinginterval: 1
dialtimeout: 2
responsetimeout: 3
backoffmin: 4
backoffmax: 4
shutdowntimeout: 0
loglevel: error
`
	got, err := ParseAgent("a.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	want := Agent{
		ID: "123", Targets: []string{"ws://a:1/register", "wss://b/wsp/register"},
		PoolIdleSize: 1, PoolMaxSize: 1, SecretKey: "42", Protocol: "v1", MaxStreams: 1,
		PingInterval: ms, DialTimeout: 2 * ms, ResponseTimeout: 3 * ms, BackoffMin: 4 * ms,
		BackoffMax: 4 * ms, LogLevel: "error",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseAgent:\n got %+v\nwant %+v", got, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := LoadServer(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadServer(missing) = %v, want ErrNotExist", err)
	}
	_, err = LoadAgent(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadAgent(missing) = %v, want ErrNotExist", err)
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("port: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadServer(path)
	want := path + `: key "port": must be between 1 and 65535, got 0`
	if err == nil || err.Error() != want {
		t.Errorf("LoadServer = %v, want %s", err, want)
	}
}

func TestParseLogLevel(t *testing.T) {
	tests := []struct {
		in   string
		want slog.Level
		ok   bool
	}{
		{"debug", slog.LevelDebug, true},
		{"info", slog.LevelInfo, true},
		{"warn", slog.LevelWarn, true},
		{"error", slog.LevelError, true},
		{"", slog.LevelInfo, false},
		{"INFO", slog.LevelInfo, false},
		{"warning", slog.LevelInfo, false},
	}
	for _, tt := range tests {
		got, err := ParseLogLevel(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseLogLevel(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestRules(t *testing.T) {
	srv := DefaultServer()
	srv.Blacklist = []rules.Rule{{URL: "secret"}}
	set, err := srv.Rules()
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Check("GET", nil, nil); err != nil {
		t.Errorf("Check = %v", err)
	}
	agent := DefaultAgent()
	agent.Whitelist = []rules.Rule{{URL: "("}}
	if _, err := agent.Rules(); err == nil {
		t.Error("agent.Rules() with a bad regex: want error")
	}
}

func TestPrepare(t *testing.T) {
	s := DefaultServer()
	s.Blacklist = []rules.Rule{{Method: "GET", URL: "^http://internal/"}}
	set, err := Prepare(&s)
	if err != nil || set == nil {
		t.Fatalf("valid server config: set %v, err %v", set, err)
	}
	u, _ := rules.ParseDestination("http://internal/x")
	if err := set.Check("GET", u, nil); !errors.Is(err, rules.ErrForbidden) {
		t.Fatalf("compiled blacklist let GET http://internal/x through: %v", err)
	}
	a := DefaultAgent()
	a.MaxStreams = 0
	if _, err := Prepare(&a); err == nil || !strings.Contains(err.Error(), "maxstreams") {
		t.Fatalf("agent config with maxstreams 0: err %v, want one naming maxstreams", err)
	}
}
