package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzSeeds are small files that reach each branch of the decoder.
var fuzzSeeds = []string{
	"", "null", "port: 8080\n", "portt: 1\n", "- a\n", "a: 1\n---\nb: 2\n",
	"port: 0x10\n", "port: 99999999999999999999\n", "timeout: -1\n", "host: &a x\nid: *a\n",
	"<<: {port: 1}\n", "port: !!int 1\n", "? port\n: 1\n", "{port: 1, host: a}\n",
	"blacklist:\n - method: GET\n   url: '^http://a/'\n   headers: {X-A: '^v$', B: ~}\n",
	"whitelist: [{}, {url: x}]\n", "blacklist:\n - url: '('\n", "blacklist:\n - \n",
	"targets: [ws://a/register, 'wss://b:443/r']\npoolidlesize: 2\npoolmaxsize: 3\n",
	"id: a_b\n", "id: |\n  multi\n  line\n", "protocol: v2\nmaxstreams: 7\n",
	"backoffmin: 10\nbackoffmax: 5\n", "legacystatus: true\nloglevel: debug\n",
}

func addSeeds(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// FuzzParseServer checks that ParseServer never panics and returns either
// an *Error on one line or a config that passes Validate.
func FuzzParseServer(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseServer("f.yaml", data)
		if err != nil {
			checkFuzzError(t, err)
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseServer accepted a config that fails Validate: %v", err)
		}
	})
}

// FuzzParseAgent checks the same for ParseAgent.
func FuzzParseAgent(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseAgent("f.yaml", data)
		if err != nil {
			checkFuzzError(t, err)
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseAgent accepted a config that fails Validate: %v", err)
		}
	})
}

func checkFuzzError(t *testing.T, err error) {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is a %T, want *Error", err, err)
	}
	if !strings.HasPrefix(err.Error(), "f.yaml: ") {
		t.Fatalf("error does not name the file: %v", err)
	}
}
