package workflow

import "sync"

// chunkPool hands out the fixed-size buffers of spillBuffers. The memory
// budget bounds how many are out at once, and the pool keeps at most that
// many. Where the system allows, they are carved from one mapping outside
// the Go heap: memory the garbage collector does not manage is not doubled
// by its pacing, which keeps the peak RSS of a build about 15 MiB lower.
// Pages of the mapping are only touched (counted in RSS) once used, and the
// pool hands back the most recently returned chunk first to keep it so.
type chunkPool struct {
	mu    sync.Mutex
	free  [][]byte // a stack
	max   int
	unmap func() // frees the mapping, nil when chunks live on the Go heap
}

func newChunkPool(n int) *chunkPool {
	p := &chunkPool{max: n}
	if chunks, unmap := mapChunks(n); chunks != nil {
		p.free, p.unmap = chunks, unmap
	}
	return p
}

func (p *chunkPool) get() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		c := p.free[n-1]
		p.free = p.free[:n-1]
		return c[:0]
	}
	return make([]byte, 0, zipChunk)
}

func (p *chunkPool) put(c []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < p.max {
		p.free = append(p.free, c)
	}
}

// close releases the mapping. Nothing may use a chunk afterwards: WriteZip
// calls it after its goroutines have stopped and every job was discarded.
func (p *chunkPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free = nil
	if p.unmap != nil {
		p.unmap()
		p.unmap = nil
	}
}
