package v2

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseHello(t *testing.T) {
	cases := []struct {
		id, max string
		want    Hello
		bad     bool
	}{
		{id: "agent-1", want: Hello{ID: "agent-1", MaxStreams: DefaultMaxStreams}},
		{id: "4b98d5a0-6794-421c-6a66-20f3edd81174", max: "10", want: Hello{ID: "4b98d5a0-6794-421c-6a66-20f3edd81174", MaxStreams: 10}},
		{id: "", bad: true},
		{id: "a_b", bad: true},
		{id: "a b", bad: true},
		{id: "a\x00", bad: true},
		{id: strings.Repeat("x", MaxIDLength+1), bad: true},
		{id: "ok", max: "0", bad: true},
		{id: "ok", max: "-1", bad: true},
		{id: "ok", max: "65536", bad: true},
		{id: "ok", max: "ten", bad: true},
	}
	for _, tc := range cases {
		h := http.Header{}
		h.Set(HeaderAgentID, tc.id)
		if tc.max != "" {
			h.Set(HeaderMaxStreams, tc.max)
		}
		got, err := ParseHello(h)
		if tc.bad {
			if !errors.Is(err, ErrBadHello) {
				t.Errorf("id %q max %q: got %v, want ErrBadHello", tc.id, tc.max, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("id %q max %q: got %+v %v, want %+v", tc.id, tc.max, got, err, tc.want)
		}
	}
}

func TestHelloRoundTrip(t *testing.T) {
	want := Hello{ID: "edge-7", MaxStreams: 42}
	h := http.Header{}
	want.Set(h)
	got, err := ParseHello(h)
	if err != nil || got != want {
		t.Fatalf("got %+v %v, want %+v", got, err, want)
	}
}

func FuzzParseHello(f *testing.F) {
	f.Add("agent-1", "1024")
	f.Add("a_b", "1")
	f.Add("", "")
	f.Add("\xff", "99999999999999999999")
	f.Fuzz(func(t *testing.T, id, max string) {
		h := http.Header{}
		h[HeaderAgentID] = []string{id}
		h[HeaderMaxStreams] = []string{max}
		got, err := ParseHello(h)
		if err != nil {
			return
		}
		if ValidateID(got.ID) != nil || got.MaxStreams < 1 || got.MaxStreams > MaxStreamsLimit {
			t.Fatalf("accepted an invalid hello %+v", got)
		}
		h2 := http.Header{}
		got.Set(h2)
		again, err := ParseHello(h2)
		if err != nil || again != got {
			t.Fatalf("round trip: %+v %v, want %+v", again, err, got)
		}
	})
}
