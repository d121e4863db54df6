package v1

import (
	"errors"
	"strings"
	"testing"
)

func TestParseGreeting(t *testing.T) {
	tests := []struct {
		in     string
		id     string
		size   int
		errSub string
	}{
		{in: "agent-1_1", id: "agent-1", size: 1},
		{in: "4b98d5a0-6794-421c-6a66-20f3edd81174_10", id: "4b98d5a0-6794-421c-6a66-20f3edd81174", size: 10},
		{in: "my_agent_3", id: "my_agent", size: 3}, // split at the last "_"
		{in: "a_0", id: "a", size: 0},
		{in: "a_007", id: "a", size: 7},
		{in: "a_10000", id: "a", size: 10000},
		{in: "agent-1", errSub: "no '_'"},
		{in: "agent-1_x", errSub: "not a non-negative integer"},
		{in: "agent-1_", errSub: "not a non-negative integer"},
		{in: "agent-1_-1", errSub: "not a non-negative integer"},
		{in: "agent-1_+1", errSub: "not a non-negative integer"},
		{in: "agent-1_ 1", errSub: "not a non-negative integer"},
		{in: "agent-1_10001", errSub: "out of range"},
		{in: "agent-1_99999999999999999999", errSub: "not a non-negative integer"},
		{in: "_1", errSub: "id must have"},
		{in: "a b_1", errSub: "invalid character"},
		{in: "a\x00_1", errSub: "invalid character"},
		{in: "a\xff_1", errSub: "invalid character"},
		{in: strings.Repeat("a", 257) + "_1", errSub: "id must have"},
		{in: "", errSub: "no '_'"},
	}
	for _, tt := range tests {
		id, size, err := ParseGreeting(tt.in)
		if tt.errSub != "" {
			if !errors.Is(err, ErrBadGreeting) || !strings.Contains(err.Error(), tt.errSub) {
				t.Errorf("ParseGreeting(%q) err = %v, want ErrBadGreeting with %q", tt.in, err, tt.errSub)
			}
			continue
		}
		if err != nil || id != tt.id || size != tt.size {
			t.Errorf("ParseGreeting(%q) = %q, %d, %v; want %q, %d", tt.in, id, size, err, tt.id, tt.size)
		}
	}
}

func TestGoldenGreetings(t *testing.T) {
	for _, name := range []string{"agent-handshake", "server-handshake"} {
		rec := pick(loadRecording(t, name), "agent->server", "ws-text")
		g := string(rec[0].payload(t))
		if got := FormatGreeting("agent-1", 1); got != g {
			t.Errorf("%s: FormatGreeting = %q, recorded %q", name, got, g)
		}
		if id, size, err := ParseGreeting(g); err != nil || id != "agent-1" || size != 1 {
			t.Errorf("%s: ParseGreeting(%q) = %q, %d, %v", name, g, id, size, err)
		}
	}
	for _, e := range pick(loadRecording(t, "server-bad-greeting"), "agent->server", "ws-text") {
		if _, _, err := ParseGreeting(string(e.payload(t))); !errors.Is(err, ErrBadGreeting) {
			t.Errorf("ParseGreeting(%q) err = %v, want ErrBadGreeting", e.payload(t), err)
		}
	}
}
