// Package bufpool recycles the copy buffers of httputil.ReverseProxy.
package bufpool

import "sync"

// Pool is an httputil.BufferPool of fixed-size buffers.
type Pool struct {
	size int
	p    sync.Pool
}

// New returns a pool of buffers of size bytes.
func New(size int) *Pool {
	return &Pool{size: size}
}

// Get returns a buffer of the pool's size.
func (bp *Pool) Get() []byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, bp.size)
}

// Put returns b to the pool; buffers of another size are dropped.
func (bp *Pool) Put(b []byte) {
	if cap(b) != bp.size {
		return
	}
	b = b[:bp.size]
	bp.p.Put(&b)
}
