package bench

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wsp-tunnel/wsp/internal/demoapi"
)

func TestTransfersAgainstDemoAPI(t *testing.T) {
	api := httptest.NewServer(demoapi.Handler())
	defer api.Close()
	addr := api.Listener.Addr().String()
	tg := &target{name: PathDirect, addr: addr, api: addr}
	const n = 3<<20 + 17 // not a multiple of the pattern or the buffer
	ctx := context.Background()
	if mbs, err := download(ctx, tg, n, 10*time.Second); err != nil || mbs <= 0 {
		t.Fatalf("download: %v %v", mbs, err)
	}
	if mbs, err := upload(ctx, tg, n, patternSum(n), 10*time.Second); err != nil || mbs <= 0 {
		t.Fatalf("upload: %v %v", mbs, err)
	}
	if _, err := upload(ctx, tg, n, patternSum(n-1), 10*time.Second); err == nil {
		t.Fatal("upload with a wrong expected digest: no error")
	}
}

func TestPatternChecker(t *testing.T) {
	var c patternChecker
	good := make([]byte, 1000)
	(&patternReader{n: 1000}).Read(good)
	if _, err := c.Write(good); err != nil {
		t.Fatal(err)
	}
	bad := make([]byte, 10)
	if _, err := c.Write(bad); err == nil {
		t.Fatal("zeros accepted as pattern")
	}
}
