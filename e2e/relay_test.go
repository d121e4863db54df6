package e2e

import (
	"net"
	"sync"
	"testing"
)

// relay is a TCP relay on loopback that the test can stall: while stalled
// it forwards nothing and closes nothing, like a network path that silently
// drops every packet. Bytes already written stay queued and flow again when
// the path heals (TCP would retransmit them). Connections opened during a
// stall never reach the upstream (their handshake would not have got
// through): they are closed when the path heals.
type relay struct {
	// static after construction
	ln       net.Listener
	upstream string
	wg       sync.WaitGroup // accept loop and copiers

	mu      sync.Mutex
	healed  chan struct{}         // guarded by mu; non-nil while stalled
	live    map[net.Conn]net.Conn // guarded by mu: client side -> upstream side
	dropped []net.Conn            // guarded by mu: accepted during a stall
	conns   map[net.Conn]struct{} // guarded by mu: every open socket
	pairs   int                   // guarded by mu: connections forwarded so far
	closed  bool                  // guarded by mu
}

// startRelay forwards connections on a new loopback port to upstream.
func startRelay(t *testing.T, upstream string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, upstream: upstream, live: make(map[net.Conn]net.Conn), conns: make(map[net.Conn]struct{})}
	r.wg.Add(1)
	go r.acceptLoop()
	t.Cleanup(r.close)
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) acceptLoop() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		stalled := r.healed != nil
		if stalled && !r.closed {
			r.dropped = append(r.dropped, c)
			r.conns[c] = struct{}{}
		}
		r.mu.Unlock()
		if stalled {
			continue
		}
		up, err := net.Dial("tcp", r.upstream)
		if err != nil {
			c.Close()
			continue
		}
		if !r.track(c, up) {
			c.Close()
			up.Close()
			return
		}
		r.wg.Add(2)
		go r.pipe(c, up)
		go r.pipe(up, c)
	}
}

func (r *relay) track(c, up net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.live[c] = up
	r.conns[c], r.conns[up] = struct{}{}, struct{}{}
	r.pairs++
	return true
}

// pipe copies src to dst, waiting while the relay is stalled. When either
// side ends, both are closed.
func (r *relay) pipe(src, dst net.Conn) {
	defer r.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		r.waitHealed()
		n, err := src.Read(buf)
		if n > 0 {
			r.waitHealed()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			r.forget(src, dst)
			return
		}
	}
}

func (r *relay) waitHealed() {
	r.mu.Lock()
	ch := r.healed
	r.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

func (r *relay) forget(a, b net.Conn) {
	a.Close()
	b.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, a)
	delete(r.conns, b)
	delete(r.live, a)
	delete(r.live, b)
}

// stall stops all forwarding, silently.
func (r *relay) stall() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.healed == nil {
		r.healed = make(chan struct{})
	}
}

// heal resumes forwarding and closes the connections opened meanwhile.
func (r *relay) heal() {
	r.mu.Lock()
	ch, dropped := r.healed, r.dropped
	r.healed, r.dropped = nil, nil
	for _, c := range dropped {
		delete(r.conns, c)
	}
	r.mu.Unlock()
	for _, c := range dropped {
		c.Close()
	}
	if ch != nil {
		close(ch)
	}
}

// liveConnections is how many forwarded connections are open.
func (r *relay) liveConnections() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.live)
}

// forwarded is how many connections were forwarded in all.
func (r *relay) forwarded() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pairs
}

func (r *relay) close() {
	r.mu.Lock()
	r.closed = true
	all := make([]net.Conn, 0, len(r.conns))
	for c := range r.conns {
		all = append(all, c)
	}
	r.mu.Unlock()
	r.ln.Close()
	for _, c := range all {
		c.Close()
	}
	r.heal()
	r.wg.Wait()
}
