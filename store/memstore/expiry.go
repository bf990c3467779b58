package memstore

import (
	"container/heap"
	"math"
	"time"
)

// bucketWidth is the span of expiry times that one bucket holds: one
// second, in nanoseconds.
const bucketWidth = int64(1e9)

// expiryIndex finds expired records without looking at live ones. Records
// are grouped in buckets of one second of expiry time, each an intrusive
// list of slots, and a min-heap orders the buckets.
//
// Why buckets and not a heap of records: a heap of records costs
// O(log n) per Put and Touch, and each step of a sift writes back the
// position of a record somewhere else in memory, about 20 cache misses at
// a million sessions, on the request path. A bucket move is O(1): unlink
// and link. The heap here orders buckets, of which there is at most one
// per second of the expiry horizon that holds a record, and new buckets
// are nearly always the latest, so their push stops at once. A timing
// wheel would need a fixed horizon, and session lifetimes range from
// minutes to months.
type expiryIndex struct {
	buckets map[int64]*bucket // by second
	heap    bucketHeap
}

// bucket holds the slots whose expiry falls in one second.
type bucket struct {
	second  int64
	head    int32
	heapIdx int
}

func (b *bucket) start() int64 { return b.second * bucketWidth }

func (b *bucket) end() int64 {
	if b.start() > math.MaxInt64-bucketWidth {
		return math.MaxInt64
	}
	return b.start() + bucketWidth
}

// Bounds of expiry times in Unix nanoseconds (the years 1678 to 2262).
var (
	maxTime = time.Unix(0, math.MaxInt64)
	minTime = time.Unix(0, math.MinInt64)
)

// unixNano is t.UnixNano clamped to what an int64 holds: Expires beyond
// 2262 is kept as 2262.
func unixNano(t time.Time) int64 {
	switch {
	case t.After(maxTime):
		return math.MaxInt64
	case t.Before(minTime):
		return math.MinInt64
	}
	return t.UnixNano()
}

func secondOf(nanos int64) int64 {
	q := nanos / bucketWidth
	if nanos < 0 && q*bucketWidth != nanos {
		q-- // floor, for times before 1970
	}
	return q
}

// add links slot i into the bucket of expires.
func (x *expiryIndex) add(s *Store, i int32, expires int64) {
	sec := secondOf(expires)
	b := x.buckets[sec]
	if b == nil {
		b = &bucket{second: sec, head: nilSlot}
		x.buckets[sec] = b
		heap.Push(&x.heap, b)
	}
	sl := s.slot(i)
	sl.exp = links{nilSlot, b.head}
	if b.head != nilSlot {
		s.slot(b.head).exp.prev = i
	}
	b.head = i
}

// remove unlinks slot i from the bucket of expires, dropping the bucket
// when it empties.
func (x *expiryIndex) remove(s *Store, i int32, expires int64) {
	sl := s.slot(i)
	if sl.exp.prev != nilSlot {
		s.slot(sl.exp.prev).exp.next = sl.exp.next
	} else {
		b := x.buckets[secondOf(expires)]
		b.head = sl.exp.next
		if b.head == nilSlot {
			heap.Remove(&x.heap, b.heapIdx)
			delete(x.buckets, b.second)
		}
	}
	if sl.exp.next != nilSlot {
		s.slot(sl.exp.next).exp.prev = sl.exp.prev
	}
	sl.exp = links{nilSlot, nilSlot}
}

// move relinks slot i from the bucket of from to that of to; within one
// bucket it does nothing.
func (x *expiryIndex) move(s *Store, i int32, from, to int64) {
	if secondOf(from) == secondOf(to) {
		return
	}
	x.remove(s, i, from)
	x.add(s, i, to)
}

// bucketHeap is a container/heap of buckets, earliest first.
type bucketHeap []*bucket

func (h bucketHeap) Len() int           { return len(h) }
func (h bucketHeap) Less(a, b int) bool { return h[a].second < h[b].second }
func (h bucketHeap) Swap(a, b int) {
	h[a], h[b] = h[b], h[a]
	h[a].heapIdx, h[b].heapIdx = a, b
}
func (h *bucketHeap) Push(v any) {
	b := v.(*bucket)
	b.heapIdx = len(*h)
	*h = append(*h, b)
}
func (h *bucketHeap) Pop() any {
	old := *h
	b := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return b
}
