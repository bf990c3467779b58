package replicated

import (
	"encoding/binary"
	"time"
)

// Every member keeps, in the Data of its own records, a header before the
// session's data:
//
//	'R' (1) | version (8) | seq (8) | writer (1) | base version (8) | base seq (8) | data
//
// version is the replicated store's version of the record: the one callers
// see, the same on every member, random, so that a record rewritten on
// another member after a failover never takes a version it had before.
// seq orders the writes of one history: a create takes the time in Unix
// microseconds (later than any tombstone of the key), and each write adds
// one. writer is the index of the member whose compare-and-set accepted
// the write. When a member starts writing a record last written by another
// member (it took over after a failover), base is that record's version and
// seq, and the writes after it carry the base on; it tells a replica whether
// a record written by the new writer came after a late copy from the old
// one, or beside it.
//
// A delete leaves a tombstone on every member for Options.TombstoneTTL:
//
//	'T' (1) | seq (8)
//
// whose seq is the time of the delete in Unix microseconds, and at least
// 2^20 past the seq of the record it replaced, so that the copy of a write
// that was still on its way when the record was deleted cannot bring it
// back on a replica, while a create after the delete (whose seq is later)
// can.
const (
	recordFormat    = 'R'
	tombstoneFormat = 'T'
	recordHeaderLen = 1 + 8 + 8 + 1 + 8 + 8
	tombstoneLen    = 1 + 8
)

// header is the decoded header of a member's record.
type header struct {
	version     uint64
	seq         uint64
	writer      int
	baseVersion uint64
	baseSeq     uint64
}

// kind says what a member's record holds.
type kind uint8

const (
	foreign   kind = iota // not written by this package: counts as absent
	record                // a session record
	tombstone             // a deleted record; seq is when it was deleted
)

func encodeRecord(h header, data []byte) []byte {
	b := make([]byte, recordHeaderLen, recordHeaderLen+len(data))
	b[0] = recordFormat
	binary.BigEndian.PutUint64(b[1:], h.version)
	binary.BigEndian.PutUint64(b[9:], h.seq)
	b[17] = byte(h.writer)
	binary.BigEndian.PutUint64(b[18:], h.baseVersion)
	binary.BigEndian.PutUint64(b[26:], h.baseSeq)
	return append(b, data...)
}

func encodeTombstone(deleted uint64) []byte {
	b := make([]byte, tombstoneLen)
	b[0] = tombstoneFormat
	binary.BigEndian.PutUint64(b[1:], deleted)
	return b
}

// decode splits a member's Data into header and session data. For a
// tombstone, h.seq is the time of the delete.
func decode(b []byte) (h header, data []byte, k kind) {
	switch {
	case len(b) >= recordHeaderLen && b[0] == recordFormat:
		h = header{
			version:     binary.BigEndian.Uint64(b[1:]),
			seq:         binary.BigEndian.Uint64(b[9:]),
			writer:      int(b[17]),
			baseVersion: binary.BigEndian.Uint64(b[18:]),
			baseSeq:     binary.BigEndian.Uint64(b[26:]),
		}
		return h, b[recordHeaderLen:], record
	case len(b) == tombstoneLen && b[0] == tombstoneFormat:
		return header{seq: binary.BigEndian.Uint64(b[1:])}, nil, tombstone
	}
	return header{}, nil, foreign
}

// nowMicros is the seq of a create or a tombstone.
func nowMicros() uint64 { return uint64(time.Now().UnixMicro()) }

// tombstoneMargin puts a tombstone's seq this far past the seq of the
// record it replaces, beyond any write of that record still on its way.
const tombstoneMargin = 1 << 20

// tombstoneSeq is the seq of a tombstone over cur (of kind k).
func tombstoneSeq(cur header, k kind) uint64 {
	if k == foreign {
		return nowMicros()
	}
	return max(nowMicros(), cur.seq+tombstoneMargin)
}

// next returns the header of a write by member w over prev (of kind k).
func next(prev header, k kind, w int, version uint64) header {
	h := header{version: version, writer: w}
	switch k {
	case record:
		h.seq = prev.seq + 1
		if prev.writer == w {
			h.baseVersion, h.baseSeq = prev.baseVersion, prev.baseSeq
		} else {
			h.baseVersion, h.baseSeq = prev.version, prev.seq
		}
	case tombstone:
		h.seq = max(nowMicros(), prev.seq+1)
	default:
		h.seq = nowMicros()
	}
	return h
}

// follows reports whether record a comes after record b in one history:
// both were written by the same member and a later, or a's writer took
// over from b or from a record after it.
func follows(a, b header) bool {
	return a.writer == b.writer && a.seq > b.seq ||
		a.baseSeq > b.seq ||
		a.baseSeq == b.seq && a.baseVersion == b.version
}

// copyAction is what a replica does with a copy of a write.
type copyAction uint8

const (
	apply    copyAction = iota // write the copy
	skip                       // the replica has this write or a later one
	diverged                   // the replica has a write from another history
)

// copyOnto decides what a replica that holds cur (of kind k) does with the
// copy of write e (a create when create is set). A record wins over one it
// follows; a create, whose seq is its time, wins over an older life of the
// key; a tombstone blocks every write of the history it ended and lets
// through those of a later one.
func copyOnto(cur header, k kind, e header, create bool) copyAction {
	switch {
	case k == foreign:
		return apply
	case k == tombstone:
		if e.seq > cur.seq {
			return apply
		}
		return skip
	case cur.version == e.version, follows(cur, e):
		return skip
	case follows(e, cur), create && e.seq > cur.seq:
		return apply
	}
	return diverged
}
