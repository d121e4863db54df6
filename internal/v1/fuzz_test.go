package v1

import (
	"bytes"
	"reflect"
	"testing"
)

// seedHeads adds every WebSocket payload of the recordings as a seed.
func seedHeads(f *testing.F) {
	for _, name := range recordingNames(f) {
		for _, e := range loadRecording(f, name) {
			if e.Kind == "ws-text" || e.Kind == "ws-binary" {
				f.Add(e.payload(f))
			}
		}
	}
	f.Add([]byte(`{"Method":"GET","URL":"u","Header":{"A":null,"B":[]}}`))
	f.Add([]byte(`{"StatusCode":200,"Header":{"A":["\u00ff\ud800"]},"ContentLength":-1}`))
}

func FuzzDecodeRequestHead(f *testing.F) {
	seedHeads(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := DecodeRequestHead(bytes.NewReader(in), 4096)
		if err != nil {
			return
		}
		enc, err := EncodeRequestHead(h)
		if err != nil {
			t.Fatalf("decoded head does not encode: %+v: %v", h, err)
		}
		h2, err := DecodeRequestHead(bytes.NewReader(enc), 0)
		if err != nil {
			t.Fatalf("encoded head does not decode: %s: %v", enc, err)
		}
		if !reflect.DeepEqual(h, h2) {
			t.Fatalf("round trip changed the head:\n%+v\n%+v", h, h2)
		}
		if enc2, _ := EncodeRequestHead(h2); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %s vs %s", enc, enc2)
		}
	})
}

func FuzzDecodeResponseHead(f *testing.F) {
	seedHeads(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := DecodeResponseHead(bytes.NewReader(in), 4096)
		if err != nil {
			return
		}
		enc, err := EncodeResponseHead(h)
		if err != nil {
			t.Fatalf("decoded head does not encode: %+v: %v", h, err)
		}
		h2, err := DecodeResponseHead(bytes.NewReader(enc), 0)
		if err != nil {
			t.Fatalf("encoded head does not decode: %s: %v", enc, err)
		}
		if !reflect.DeepEqual(h, h2) {
			t.Fatalf("round trip changed the head:\n%+v\n%+v", h, h2)
		}
		if enc2, _ := EncodeResponseHead(h2); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %s vs %s", enc, enc2)
		}
	})
}

func FuzzParseGreeting(f *testing.F) {
	for _, s := range []string{"agent-1_1", "agent-1", "agent-1_x", "a_b_3", "_1", "a_", "a_007",
		"4b98d5a0-6794-421c-6a66-20f3edd81174_10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, size, err := ParseGreeting(s)
		if err != nil {
			return
		}
		if size < 0 || size > MaxIdleSize || id == "" {
			t.Fatalf("ParseGreeting(%q) = %q, %d: out of bounds", s, id, size)
		}
		g := FormatGreeting(id, size)
		id2, size2, err := ParseGreeting(g)
		if err != nil || id2 != id || size2 != size {
			t.Fatalf("round trip of %q via %q gave %q, %d, %v", s, g, id2, size2, err)
		}
	})
}
