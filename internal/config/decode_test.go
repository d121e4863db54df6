package config

import (
	"strings"
	"testing"
	"time"
)

// TestValueForms checks the YAML spellings a value may take.
func TestValueForms(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		check func(Server) bool
	}{
		{"flow mapping", "{port: 81, host: a}", func(c Server) bool { return c.Port == 81 && c.Host == "a" }},
		{"explicit key", "? port\n: 82\n", func(c Server) bool { return c.Port == 82 }},
		{"plus sign", "port: +83\n", func(c Server) bool { return c.Port == 83 }},
		{"minus zero", "idletimeout: -0\n", func(c Server) bool { return c.IdleTimeout == 0 }},
		{"document start", "---\nport: 84\n...\n", func(c Server) bool { return c.Port == 84 }},
		{"empty second document", "port: 85\n---\n", func(c Server) bool { return c.Port == 85 }},
		{"single-quoted", "secretkey: 'it''s'\n", func(c Server) bool { return c.SecretKey == "it's" }},
		{"number as string", "secretkey: 1e3\n", func(c Server) bool { return c.SecretKey == "1e3" }},
		{"bool as string", "host: true\n", func(c Server) bool { return c.Host == "true" }},
		{"null keeps default", "port: ~\nhost:\nloglevel: null\n", func(c Server) bool {
			return c.Port == 8080 && c.Host == "127.0.0.1" && c.LogLevel == "info"
		}},
		{"big duration", "shutdowntimeout: 86400000\n", func(c Server) bool { return c.ShutdownTimeout == 24*time.Hour }},
		{"literal block regex", "blacklist:\n  - url: |-\n      ^http://a/\n", func(c Server) bool {
			return len(c.Blacklist) == 1 && c.Blacklist[0].URL == "^http://a/"
		}},
		{"flow rules", "whitelist: [{method: GET}, {headers: {A: b}}]\n", func(c Server) bool {
			return len(c.Whitelist) == 2 && c.Whitelist[0].Method == "GET" && c.Whitelist[1].Headers["A"] == "b"
		}},
		{"null rule fields", "blacklist:\n  - method:\n    url: ~\n    headers:\n", func(c Server) bool {
			return len(c.Blacklist) == 1 && c.Blacklist[0].Method == "" && c.Blacklist[0].Headers == nil
		}},
		{"numeric header value", "blacklist:\n  - headers: {X-N: 5}\n", func(c Server) bool {
			return c.Blacklist[0].Headers["X-N"] == "5"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseServer("s.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		yaml string
		want string
	}{
		{"port: true", `s.yaml: line 1: key "port": expected an integer, got boolean true`},
		{"port: .inf", `s.yaml: line 1: key "port": expected an integer, got number .inf`},
		{"port: |\n  text\n", `s.yaml: line 1: key "port": expected an integer, got string "text\n"`},
		{"port: " + long, `s.yaml: line 1: key "port": expected an integer, got string "` + long[:maxShown] + `"...`},
		{"port: 1" + strings.Repeat("0", 80), `s.yaml: line 1: key "port": integer out of range: 1` + strings.Repeat("0", maxShown-1) + "..."},
		{"port: *a", `s.yaml: line 1: key "port": anchors and aliases are not supported`},
		{"blacklist: [~]", `s.yaml: line 1: key "blacklist[0]": must not be null`},
		{"blacklist: [{headers: {<<: {a: b}}}]", `s.yaml: line 1: key "blacklist[0].headers": merge keys (<<) are not supported`},
		{"blacklist: [{headers: {A: &x b}}]", `s.yaml: line 1: key "blacklist[0].headers.A": anchors and aliases are not supported`},
		{"~: 1", `s.yaml: line 1: expected a key, got null`},
	}
	for _, tt := range tests {
		_, err := ParseServer("s.yaml", []byte(tt.yaml))
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseServer(%q):\n got %v\nwant %s", tt.yaml, err, tt.want)
		}
	}
}
