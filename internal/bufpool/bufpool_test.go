package bufpool

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGetReturnsBuffersOfTheSize(t *testing.T) {
	p := New(1024)
	b := p.Get()
	if len(b) != 1024 {
		t.Fatalf("len = %d, want 1024", len(b))
	}
	p.Put(b[:10])
	if got := p.Get(); len(got) != 1024 {
		t.Fatalf("after Put of a resliced buffer: len = %d, want 1024", len(got))
	}
	p.Put(make([]byte, 5)) // another size is dropped
	if got := p.Get(); len(got) != 1024 {
		t.Fatalf("after Put of a foreign buffer: len = %d, want 1024", len(got))
	}
}
