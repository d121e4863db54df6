package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBadConfigNamesFileAndKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(path, []byte("poolidlesize: 20\npoolmaxsize: 10\n"), 0o600)
	err := run([]string{"-config", path})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"poolidlesize"`) {
		t.Fatalf("got %v, want an error naming %s and the key poolidlesize", err, path)
	}
}

func TestMissingConfigFile(t *testing.T) {
	if err := run([]string{"-config", "/nonexistent/agent.yaml"}); err == nil || !strings.Contains(err.Error(), "/nonexistent/agent.yaml") {
		t.Fatalf("got %v", err)
	}
}

func TestHelpIsNotAnError(t *testing.T) {
	if err := run([]string{"-h"}); err != nil {
		t.Fatal(err)
	}
}
