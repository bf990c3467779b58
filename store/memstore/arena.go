package memstore

import (
	"encoding/binary"
	"sort"
)

// arena holds the data of records of up to maxClassSize bytes in chunks of
// pointer-free memory, carved into blocks of a few dozen size classes.
//
// Why: a record kept in a []byte of its own is an object the garbage
// collector finds and marks at every cycle, and a slot that points to it
// must be scanned. At a million sessions that marking cost every request
// more than the store itself (W2 through the middleware went from about
// 9 µs at 1,000 sessions to 24 µs at 1,000,000). Blocks in a chunk are
// invisible to the collector: a chunk is one object with no pointers, and
// slots refer to blocks by number.
//
// A freed block goes on its class's free list, linked through the block
// itself, so that freeing allocates nothing (a sweep of a million records
// would otherwise grow a slice of them under the store's lock), and is
// reused by the next record of that class; chunks are never given back.
// The memory held is that of the most records the store ever held of
// each class, as with the key index (Go's maps do not shrink either). A
// class rounds a size up by at most 12.5%, plus 16 bytes.
type arena struct {
	chunks  [][]byte // by number; each serves one class
	classes [numClasses]arenaClass
}

// arenaClass is the state of one size class.
type arenaClass struct {
	free     blockRef // the last block freed, or noBlock; each free block holds the next
	chunk    int32    // the chunk being carved, or -1
	next     int32    // offset of its first uncarved block
	chunkLen int32    // length of the class's last chunk
}

// blockRef names a block: its chunk's number and its offset in it.
type blockRef struct{ chunk, off int32 }

// noBlock ends a free list.
var noBlock = blockRef{-1, -1}

// maxChunk is the largest chunk: a class's first chunk holds a few blocks,
// and each next one is twice as long, up to maxChunk.
const maxChunk = 1 << 20

// maxClassSize is the largest record kept in the arena; larger ones are
// kept in a []byte of their own (Store.big), as they are rare and each
// is worth its own object.
const maxClassSize = 16 << 10

// classSizes lists the block size of each class, ascending: multiples of
// 16 up to 256, then steps of at most 12.5%, rounded up to 16, up to
// maxClassSize.
var classSizes = func() []int32 {
	var sizes []int32
	for n := int32(16); n <= 256; n += 16 {
		sizes = append(sizes, n)
	}
	for n := int32(256); n < maxClassSize; {
		n = min((n+n/8+15)&^15, maxClassSize)
		sizes = append(sizes, n)
	}
	return sizes
}()

const numClasses = 50 // len(classSizes); init checks it

func init() {
	if len(classSizes) != numClasses {
		panic("memstore: numClasses is not len(classSizes)")
	}
}

// classOf returns the class of a record of n bytes, 0 < n <= maxClassSize.
func classOf(n int) uint8 {
	if n <= 256 {
		return uint8((n - 1) >> 4)
	}
	return uint8(sort.Search(numClasses, func(c int) bool { return int(classSizes[c]) >= n }))
}

func newArena() arena {
	var a arena
	for c := range a.classes {
		a.classes[c].chunk = -1
		a.classes[c].free = noBlock
	}
	return a
}

// alloc returns a block of class c.
func (a *arena) alloc(c uint8) blockRef {
	cl := &a.classes[c]
	if b := cl.free; b != noBlock {
		cl.free = a.link(b)
		return b
	}
	size := classSizes[c]
	if cl.chunk < 0 || cl.next+size > int32(len(a.chunks[cl.chunk])) {
		cl.chunkLen = min(max(2*cl.chunkLen, 4*size, 4<<10), maxChunk)
		cl.chunkLen -= cl.chunkLen % size
		a.chunks = append(a.chunks, make([]byte, cl.chunkLen))
		cl.chunk, cl.next = int32(len(a.chunks)-1), 0
	}
	b := blockRef{cl.chunk, cl.next}
	cl.next += size
	return b
}

// release puts block b of class c on its class's free list: its first 8
// bytes (a block has at least 16) name the block freed before it.
func (a *arena) release(c uint8, b blockRef) {
	cl := &a.classes[c]
	p := a.bytes(b, 8)
	binary.LittleEndian.PutUint32(p, uint32(cl.free.chunk))
	binary.LittleEndian.PutUint32(p[4:], uint32(cl.free.off))
	cl.free = b
}

// link returns the block that free block b names as the next free one.
func (a *arena) link(b blockRef) blockRef {
	p := a.bytes(b, 8)
	return blockRef{int32(binary.LittleEndian.Uint32(p)), int32(binary.LittleEndian.Uint32(p[4:]))}
}

// bytes returns the first n bytes of block b, to read or write.
func (a *arena) bytes(b blockRef, n int32) []byte {
	return a.chunks[b.chunk][b.off : b.off+n : b.off+n]
}
