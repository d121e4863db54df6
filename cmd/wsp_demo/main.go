// Command wsp_demo runs wsp end to end on loopback: a sample internal API, a
// wsp_server and a wsp_client with the built-in defaults, all in one process.
// It checks one request through the tunnel and prints a curl command that
// goes through it too, then runs until interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/wsp-tunnel/wsp/agent"
	"github.com/wsp-tunnel/wsp/internal/cli"
	"github.com/wsp-tunnel/wsp/internal/config"
	"github.com/wsp-tunnel/wsp/internal/demoapi"
	"github.com/wsp-tunnel/wsp/server"
)

const about = `wsp_demo starts a sample internal API, a wsp server and a wsp agent on
loopback, proves that a request goes through the tunnel, and prints a curl
command to try it yourself. Stop it with Ctrl-C.`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wsp_demo:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("wsp_demo", flag.ContinueOnError)
	port := fs.Int("port", 8080, "server `port` on 127.0.0.1")
	apiAddr := fs.String("api", "127.0.0.1:8081", "`address` of the sample internal API")
	once := fs.Bool("once", false, "exit after the self-check instead of running until Ctrl-C")
	level := fs.String("loglevel", "warn", "log `level`: debug, info, warn or error")
	cli.Usage(fs, about)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return demo(ctx, *port, *apiAddr, *once, *level)
}

func demo(ctx context.Context, port int, apiAddr string, once bool, level string) error {
	log := cli.Logger(level)
	api, err := listen(apiAddr, demoapi.Handler())
	if err != nil {
		return fmt.Errorf("sample API: %w", err)
	}
	defer api.Close()

	scfg := config.DefaultServer()
	scfg.Port = port
	core, err := server.New(scfg, log.With("role", "server"))
	if err != nil {
		return err
	}
	defer core.Close()
	srv, err := listen(scfg.Addr(), core)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	defer srv.Close()

	acfg := config.DefaultAgent()
	acfg.Targets = []string{"ws://" + scfg.Addr() + "/register"}
	ag, err := agent.New(acfg, log.With("role", "agent"))
	if err != nil {
		return err
	}
	actx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ag.Run(actx) }()
	defer func() { cancel(); <-done }()

	dest := "http://" + apiAddr + "/hello"
	if err := selfCheck(ctx, ag, scfg.Addr(), dest); err != nil {
		return err
	}
	fmt.Printf("wsp is running: API on %s, server on %s, agent %s connected.\nTry:\n\n  curl -H 'X-PROXY-DESTINATION: %s' http://%s/request\n\n",
		apiAddr, scfg.Addr(), acfg.ID, dest, scfg.Addr())
	if once {
		return nil
	}
	fmt.Println("Press Ctrl-C to stop.")
	<-ctx.Done()
	return nil
}

// selfCheck waits for the agent and sends one request through the tunnel.
func selfCheck(ctx context.Context, ag *agent.Agent, serverAddr, dest string) error {
	select {
	case <-ag.Connected():
	case <-time.After(10 * time.Second):
		return errors.New("the agent did not connect within 10s")
	case <-ctx.Done():
		return ctx.Err()
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+serverAddr+"/request", nil)
	req.Header.Set("X-PROXY-DESTINATION", dest)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("self-check: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("self-check: %s: %s", resp.Status, body)
	}
	fmt.Printf("self-check through the tunnel: %s %q\n", strconv.Itoa(resp.StatusCode), body)
	return nil
}

// listen serves h on addr in the background.
func listen(addr string, h http.Handler) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}
