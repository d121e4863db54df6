package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/wsp-tunnel/wsp/agent"
	"github.com/wsp-tunnel/wsp/internal/cli"
	"github.com/wsp-tunnel/wsp/internal/config"
	"github.com/wsp-tunnel/wsp/internal/demoapi"
	"github.com/wsp-tunnel/wsp/server"
)

// Roles a bench binary takes as a child process (see RoleMain).
const (
	RoleAPI    = "api"
	RoleServer = "server"
	RoleAgent  = "agent"
)

// RoleMain runs the bench binary as one of its child processes, until
// SIGTERM or SIGINT. args are its command-line arguments:
//
//	-role api -listen ADDR                    the sample internal API (demoapi)
//	-role server -config FILE [-pprof ADDR]   the wsp server core, as wsp_server runs it
//	-role agent  -config FILE [-pprof ADDR]   the wsp agent, as wsp_client runs it
//
// The server and agent roles exist for profiling: the same cores as the
// real commands, plus net/http/pprof on ADDR.
func RoleMain(args []string) error {
	fs := flag.NewFlagSet("wsp_bench -role", flag.ContinueOnError)
	role := fs.String("role", "", "api, server or agent")
	listen := fs.String("listen", "", "api: listen address")
	cfgPath := fs.String("config", "", "server, agent: YAML config file")
	pprofAddr := fs.String("pprof", "", "server, agent: serve net/http/pprof on this address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *pprofAddr != "" {
		closePprof, err := servePprof(*pprofAddr)
		if err != nil {
			return err
		}
		defer closePprof()
	}
	switch *role {
	case RoleAPI:
		return serveUntil(ctx, *listen, demoapi.Handler(), time.Second)
	case RoleServer:
		return serverRole(ctx, *cfgPath)
	case RoleAgent:
		return agentRole(ctx, *cfgPath)
	}
	return fmt.Errorf("unknown role %q", *role)
}

// serverRole runs the server core like cmd/wsp_server does.
func serverRole(ctx context.Context, path string) error {
	cfg, err := config.LoadServer(path)
	if err != nil {
		return err
	}
	core, err := server.New(cfg, cli.Logger(cfg.LogLevel))
	if err != nil {
		return err
	}
	defer core.Close()
	srv := &http.Server{
		Handler:           core,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleConnTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
	}
	return serveServer(ctx, cfg.Addr(), srv, cfg.ShutdownTimeout)
}

// agentRole runs the agent like cmd/wsp_client does.
func agentRole(ctx context.Context, path string) error {
	cfg, err := config.LoadAgent(path)
	if err != nil {
		return err
	}
	a, err := agent.New(cfg, cli.Logger(cfg.LogLevel))
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// serveUntil serves h on addr until ctx ends.
func serveUntil(ctx context.Context, addr string, h http.Handler, grace time.Duration) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return serveServer(ctx, addr, srv, grace)
}

func serveServer(ctx context.Context, addr string, srv *http.Server, grace time.Duration) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// servePprof serves the pprof handlers on addr and records mutex
// contention (one event in 10) so that lock waits show in the profiles.
func servePprof(addr string) (func(), error) {
	runtime.SetMutexProfileFraction(10)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	return func() { srv.Close(); <-done }, nil
}
