package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wsp-tunnel/wsp/internal/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBadConfigNamesFileAndKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.yaml")
	os.WriteFile(path, []byte("port: 8080\ntimeout: -5\n"), 0o600)
	err := run([]string{"-config", path})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"timeout"`) {
		t.Fatalf("got %v, want an error naming %s and the key timeout", err, path)
	}
}

func TestHelpIsNotAnError(t *testing.T) {
	if err := run([]string{"-h"}); err != nil {
		t.Fatal(err)
	}
}

func TestServeAnswersStatusAndStopsOnCancel(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := config.DefaultServer()
	cfg.Port = port
	cfg.LogLevel = "error"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg) }()
	url := "http://" + cfg.Addr() + "/status"
	var resp *http.Response
	var err error
	for range 100 {
		if resp, err = http.Get(url); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/status: %d", resp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return after cancel")
	}
}
