package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const (
	readyTimeout = 20 * time.Second
	stopTimeout  = 10 * time.Second
)

// target is one path a request can take: straight to the API, or through
// the server of one tunnel.
type target struct {
	name  string
	addr  string  // where clients connect
	api   string  // the API's address
	procs []*proc // whose CPU time is this path's cost
	tun   *tunnel // nil for the direct path
}

// request is a small GET of the API path apiPath along t.
func (t *target) request(apiPath string) []byte {
	if t.tun == nil {
		return getRequest(t.addr, apiPath, "")
	}
	return getRequest(t.addr, "/request", "http://"+t.api+apiPath)
}

// url is where an http.Client sends a request for apiPath, and the
// X-PROXY-DESTINATION header it needs ("" on the direct path).
func (t *target) url(apiPath string) (string, string) {
	if t.tun == nil {
		return "http://" + t.addr + apiPath, ""
	}
	return "http://" + t.addr + "/request", "http://" + t.api + apiPath
}

// cpu is the CPU time used so far by the path's processes.
func (t *target) cpu() (time.Duration, error) {
	var sum time.Duration
	for _, p := range t.procs {
		d, err := ReadCPU(p.pid())
		if err != nil {
			return 0, fmt.Errorf("%s: %w", p.name, err)
		}
		sum += d
	}
	return sum, nil
}

// alive returns an error if one of the path's processes has exited.
func (t *target) alive() error {
	for _, p := range t.procs {
		if p.exited() {
			return fmt.Errorf("%s exited; end of its log:\n%s", p.name, p.tail())
		}
	}
	return nil
}

// tunnel is one server and its agent.
type tunnel struct {
	proto                 string
	server, agent         *proc
	addr                  string
	pprofServer, pprofAgt string // set when profiling
}

// env is the set of processes of one run.
type env struct {
	cfg     Config
	dir     string
	ownDir  bool
	api     *proc
	targets []*target // direct, v2, v1
	procs   []*proc   // every process started, in start order
}

func setup(ctx context.Context, cfg Config) (e *env, err error) {
	e = &env{cfg: cfg, dir: cfg.WorkDir}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if e.dir == "" {
		if e.dir, err = os.MkdirTemp("", "wsp-bench-"); err != nil {
			return nil, err
		}
		e.ownDir = true
	}
	if err := e.binaries(ctx); err != nil {
		return nil, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	if e.api, err = e.start("api", e.self(RoleAPI, "-listen", apiAddr)); err != nil {
		return nil, err
	}
	if err := waitOK(ctx, e.api, "http://"+apiAddr+"/hello", "", readyTimeout); err != nil {
		return nil, err
	}
	e.targets = append(e.targets, &target{name: PathDirect, addr: apiAddr, api: apiAddr, procs: []*proc{e.api}})
	for _, proto := range tunnelPaths {
		tun, err := e.startTunnel(ctx, proto, apiAddr)
		if err != nil {
			return nil, err
		}
		e.targets = append(e.targets, &target{name: proto, addr: tun.addr, api: apiAddr, procs: []*proc{tun.server, tun.agent}, tun: tun})
	}
	return e, nil
}

// binaries builds wsp_server and wsp_client unless given or not needed.
func (e *env) binaries(ctx context.Context) error {
	if e.cfg.ProfileDir != "" || (e.cfg.ServerBin != "" && e.cfg.ClientBin != "") {
		return nil
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", e.dir,
		"github.com/wsp-tunnel/wsp/cmd/wsp_server", "github.com/wsp-tunnel/wsp/cmd/wsp_client")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building wsp_server and wsp_client (run from the module, or pass their paths): %v\n%s", err, out)
	}
	if e.cfg.ServerBin == "" {
		e.cfg.ServerBin = filepath.Join(e.dir, "wsp_server")
	}
	if e.cfg.ClientBin == "" {
		e.cfg.ClientBin = filepath.Join(e.dir, "wsp_client")
	}
	return nil
}

// self is the command line of this binary in a role.
func (e *env) self(role string, args ...string) []string {
	argv := append([]string(nil), e.cfg.Self...)
	return append(append(argv, "-role", role), args...)
}

// start runs argv as process name with SelfEnv and extra in its
// environment.
func (e *env) start(name string, argv []string, extra ...string) (*proc, error) {
	p, err := startProc(e.dir, name, argv, append(append([]string(nil), e.cfg.SelfEnv...), extra...))
	if err != nil {
		return nil, err
	}
	e.procs = append(e.procs, p)
	return p, nil
}

// startServer starts one server (the binary, or the server role when
// profiling) and waits until it answers.
func (e *env) startServer(ctx context.Context, name string) (p *proc, addr, pprofAddr string, err error) {
	if addr, err = freeAddr(); err != nil {
		return nil, "", "", err
	}
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	yaml := fmt.Sprintf("host: 127.0.0.1\nport: %s\ntimeout: 10000\nshutdowntimeout: 500\nloglevel: warn\n", port)
	cfgPath := filepath.Join(e.dir, name+".yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		return nil, "", "", err
	}
	argv := []string{e.cfg.ServerBin, "-config", cfgPath}
	if e.cfg.ProfileDir != "" {
		if pprofAddr, err = freeAddr(); err != nil {
			return nil, "", "", err
		}
		argv = e.self(RoleServer, "-config", cfgPath, "-pprof", pprofAddr)
	}
	if p, err = e.start(name, argv, e.cfg.TunnelEnv...); err != nil {
		return nil, "", "", err
	}
	return p, addr, pprofAddr, waitOK(ctx, p, "http://"+addr+"/status", "", readyTimeout)
}

func (e *env) startTunnel(ctx context.Context, proto, apiAddr string) (*tunnel, error) {
	t := &tunnel{proto: proto}
	var err error
	if t.server, t.addr, t.pprofServer, err = e.startServer(ctx, "server-"+proto); err != nil {
		return nil, err
	}
	yaml := fmt.Sprintf("id: bench-%s\ntargets:\n  - ws://%s/register\nprotocol: %s\npoolidlesize: %d\npoolmaxsize: %d\nshutdowntimeout: 500\nloglevel: warn\n",
		proto, t.addr, proto, e.cfg.V1PoolIdle, e.cfg.V1PoolMax)
	cfgPath := filepath.Join(e.dir, "agent-"+proto+".yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		return nil, err
	}
	argv := []string{e.cfg.ClientBin, "-config", cfgPath}
	if e.cfg.ProfileDir != "" {
		if t.pprofAgt, err = freeAddr(); err != nil {
			return nil, err
		}
		argv = e.self(RoleAgent, "-config", cfgPath, "-pprof", t.pprofAgt)
	}
	if t.agent, err = e.start("agent-"+proto, argv, e.cfg.TunnelEnv...); err != nil {
		return nil, err
	}
	if err := waitOK(ctx, t.agent, "http://"+t.addr+"/request", "http://"+apiAddr+"/hello", readyTimeout); err != nil {
		return nil, fmt.Errorf("%s tunnel: %w\nserver log:\n%s", proto, err, t.server.tail())
	}
	return t, nil
}

func (e *env) tunnels() []*target { return e.targets[1:] }

// close stops every process, newest first, and removes a temporary
// directory it created.
func (e *env) close() {
	for i := len(e.procs) - 1; i >= 0; i-- {
		e.procs[i].stop(stopTimeout)
	}
	if e.ownDir {
		os.RemoveAll(e.dir)
	}
}
