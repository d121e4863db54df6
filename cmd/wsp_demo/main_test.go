package main

import (
	"context"
	"net"
	"net/http"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func freeAddr(t *testing.T) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr)
}

// TestDemoSelfCheck runs the demo once: it fails unless a request went
// through the tunnel.
func TestDemoSelfCheck(t *testing.T) {
	if err := demo(context.Background(), freeAddr(t).Port, freeAddr(t).String(), true, "error"); err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()
}
