package v1

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func acquire(t *testing.T, p *ServerPool) *ServerConn {
	t.Helper()
	sc, ok := p.TryAcquire()
	if !ok {
		t.Fatal("no idle connection")
	}
	return sc
}

func TestServerPoolAcquireRelease(t *testing.T) {
	p, notified := newTestPool(t, 2, 0, ServerConnConfig{})
	addAgent(t, p)
	addAgent(t, p)
	if len(notified) != 2 || p.Len() != 2 || p.Idle() != 2 {
		t.Fatalf("after 2 Adds: %d notifications, Len %d, Idle %d", len(notified), p.Len(), p.Idle())
	}
	a, b := acquire(t, p), acquire(t, p)
	if a == b || p.Idle() != 0 || p.Len() != 2 {
		t.Fatalf("after 2 acquires: Idle %d, Len %d", p.Idle(), p.Len())
	}
	if _, ok := p.TryAcquire(); ok {
		t.Fatal("TryAcquire succeeded with every connection busy")
	}
	a.Release() // no exchange ran: the connection is untouched
	if p.Idle() != 1 || len(notified) != 3 {
		t.Fatalf("after Release: Idle %d, %d notifications", p.Idle(), len(notified))
	}
	b.Release()
}

func TestServerIdleReaper(t *testing.T) {
	p, _ := newTestPool(t, 1, 50*time.Millisecond, ServerConnConfig{})
	agents := []*websocket.Conn{addAgent(t, p), addAgent(t, p), addAgent(t, p)}
	busy := acquire(t, p) // busy connections are never reaped
	eventually(t, "reaping down to IdleSize", func() bool { return p.Len() == 2 })
	time.Sleep(100 * time.Millisecond)
	if p.Len() != 2 || p.Idle() != 1 {
		t.Fatalf("Len %d Idle %d, want 2 and 1", p.Len(), p.Idle())
	}
	closed := 0
	for _, a := range agents {
		a.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, _, err := a.ReadMessage(); websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			closed++
		}
	}
	if closed != 1 {
		t.Errorf("%d agents got a normal close frame, want 1", closed)
	}
	busy.Release()
}

func TestServerPingTimeout(t *testing.T) {
	p, _ := newTestPool(t, 2, 0, ServerConnConfig{PingInterval: 20 * time.Millisecond})
	silent := addAgent(t, p) // never reads, so never answers a ping
	lively := addAgent(t, p)
	go func() {
		for { // gorilla answers pings while reading
			if _, _, err := lively.ReadMessage(); err != nil {
				return
			}
		}
	}()
	eventually(t, "the silent agent to be dropped", func() bool { return p.Len() == 1 })
	time.Sleep(150 * time.Millisecond)
	if p.Len() != 1 {
		t.Fatalf("Len %d: the lively agent was dropped too", p.Len())
	}
	if err := expectClosed(t, silent); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("silent agent saw %v", err)
	}
}

func TestServerPoolClose(t *testing.T) {
	p, _ := newTestPool(t, 1, 0, ServerConnConfig{})
	agent := addAgent(t, p)
	p.Close()
	p.Close()
	<-p.Done()
	if err := expectClosed(t, agent); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Errorf("agent saw %v, want a normal close", err)
	}
	late := addAgent(t, p) // refused
	expectClosed(t, late)
	if p.Len() != 0 {
		t.Fatalf("Len %d after Close", p.Len())
	}
}
