// Command wsp_client is the wsp agent: it runs inside the private network,
// dials out to wsp servers and serves their requests against internal APIs.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsp-tunnel/wsp/agent"
	"github.com/wsp-tunnel/wsp/internal/cli"
	"github.com/wsp-tunnel/wsp/internal/config"
)

const about = `wsp_client (the wsp agent) dials out to the wsp servers in "targets", keeps
those WebSocket connections open and performs the requests they carry against
internal HTTP APIs, after checking its blacklist and whitelist.
Without -config it connects to ws://127.0.0.1:8080/register with the built-in defaults.`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wsp_client:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	path, help, err := cli.ConfigFlag("wsp_client", about, args)
	if err != nil || help {
		return err
	}
	cfg := config.DefaultAgent()
	if path != "" {
		if cfg, err = config.LoadAgent(path); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := agent.New(cfg, cli.Logger(cfg.LogLevel))
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
