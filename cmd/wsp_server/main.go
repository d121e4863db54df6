// Command wsp_server is the public side of wsp: agents connect to it on
// /register and applications send it requests on /request.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsp-tunnel/wsp/internal/cli"
	"github.com/wsp-tunnel/wsp/internal/config"
	"github.com/wsp-tunnel/wsp/server"
)

const about = `wsp_server accepts wsp agents (wsp_client, v2 or legacy v1) on /register and
proxies requests sent to /request with the header X-PROXY-DESTINATION through them.
Without -config it listens on 127.0.0.1:8080 with the built-in defaults.`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wsp_server:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	path, help, err := cli.ConfigFlag("wsp_server", about, args)
	if err != nil || help {
		return err
	}
	cfg := config.DefaultServer()
	if path != "" {
		if cfg, err = config.LoadServer(path); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg)
}

func serve(ctx context.Context, cfg config.Server) error {
	log := cli.Logger(cfg.LogLevel)
	core, err := server.New(cfg, log)
	if err != nil {
		return err
	}
	defer core.Close()
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           core,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleConnTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("wsp_server listening", "addr", ln.Addr().String())
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight", "grace", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("grace period over: closing remaining requests", "err", err)
		srv.Close()
	}
	<-served
	return core.Close()
}
