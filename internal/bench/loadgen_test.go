package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunLoadCountsOnlyTheWindow(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	var started, ended bool
	res, err := RunLoad(context.Background(), Load{
		Addr: addr, Request: getRequest(addr, "/hello", ""), Concurrency: 4,
		Warmup: 50 * time.Millisecond, Duration: 200 * time.Millisecond,
		OnStart: func() { started = true }, OnEnd: func() { ended = true },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != 0 || !started || !ended {
		t.Fatalf("requests %d errors %d start %v end %v", res.Requests, res.Errors, started, ended)
	}
	if res.Requests >= served.Load() {
		t.Errorf("window counted %d of %d served: warm-up requests were counted", res.Requests, served.Load())
	}
	if res.Latency.Count() != res.Requests || res.RPS() <= 0 {
		t.Errorf("latency count %d, rps %v", res.Latency.Count(), res.RPS())
	}

	res, err = RunLoad(context.Background(), Load{Addr: addr, Request: getRequest(addr, "/fail", ""), Concurrency: 2, Duration: 50 * time.Millisecond})
	if err != nil || res.Requests != 0 || res.Errors == 0 {
		t.Fatalf("failing path: %d ok, %d errors, %v", res.Requests, res.Errors, err)
	}
}

func TestRunLoadCapAndCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	res, err := RunLoad(context.Background(), Load{Addr: addr, Request: getRequest(addr, "/", ""), Concurrency: 3, MaxRequests: 500})
	if err != nil || res.Requests < 500 || res.Requests > 503 {
		t.Fatalf("capped load: %d requests, %v", res.Requests, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if _, err := RunLoad(ctx, Load{Addr: addr, Request: getRequest(addr, "/", ""), Concurrency: 1, Duration: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("cancelled load did not stop")
	}
	if _, err := RunLoad(context.Background(), Load{Addr: "127.0.0.1:1", Request: nil, Concurrency: 1, Duration: time.Millisecond}); err == nil {
		t.Fatal("load against a closed port: no error")
	}
}
