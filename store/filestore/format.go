package filestore

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"time"

	"github.com/httpsession/httpsession"
)

// The record file format, version 1. All integers are big-endian.
//
//	offset  size  field
//	0       4     magic "HSFS"
//	4       2     format version (1)
//	6       2     flags (0)
//	8       8     record version
//	16      8     expires, Unix nanoseconds (signed)
//	24      4     owner length
//	28      4     data length
//	32      4     CRC-32C of the data
//	36      4     CRC-32C of bytes 0..35 and the owner
//	40      ...   owner, then data
//
// The file is exactly headerSize + owner length + data length bytes long.
const (
	magic         = "HSFS"
	formatVersion = 1
	headerSize    = 40
)

var (
	// errCorrupt marks a file that is not a record this package wrote:
	// truncated, bad magic, wrong lengths or a checksum mismatch. It never
	// becomes valid, so the sweeper may delete it.
	errCorrupt = errors.New("filestore: corrupt record file")
	// errFutureFormat marks a file with our magic but a format version
	// this build does not know, written by a newer build. It reads as
	// absent, but the sweeper leaves it to the build that wrote it.
	errFutureFormat = errors.New("filestore: record file of an unknown format version")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeHeader returns the header and owner bytes of rec stored at version.
// The data follows them in the file.
func encodeHeader(rec httpsession.Record, version uint64) []byte {
	buf := make([]byte, headerSize+len(rec.Owner))
	copy(buf, magic)
	binary.BigEndian.PutUint16(buf[4:], formatVersion)
	binary.BigEndian.PutUint64(buf[8:], version)
	binary.BigEndian.PutUint64(buf[16:], uint64(unixNano(rec.Expires)))
	binary.BigEndian.PutUint32(buf[24:], uint32(len(rec.Owner)))
	binary.BigEndian.PutUint32(buf[28:], uint32(len(rec.Data)))
	binary.BigEndian.PutUint32(buf[32:], crc32.Checksum(rec.Data, castagnoli))
	copy(buf[headerSize:], rec.Owner)
	binary.BigEndian.PutUint32(buf[36:], headerChecksum(buf))
	return buf
}

func headerChecksum(buf []byte) uint32 {
	c := crc32.Update(0, castagnoli, buf[:36])
	return crc32.Update(c, castagnoli, buf[headerSize:])
}

// decodeHeader parses the header and owner at the start of buf, a file of
// size bytes. It returns the record without Data and the data length; the
// data, if present in buf, is not checked.
func decodeHeader(buf []byte, size int64) (httpsession.Record, int, error) {
	if len(buf) < headerSize || string(buf[:4]) != magic {
		return httpsession.Record{}, 0, errCorrupt
	}
	if binary.BigEndian.Uint16(buf[4:]) != formatVersion {
		return httpsession.Record{}, 0, errFutureFormat
	}
	ownerLen := int64(binary.BigEndian.Uint32(buf[24:]))
	dataLen := int64(binary.BigEndian.Uint32(buf[28:]))
	if headerSize+ownerLen+dataLen != size || int64(len(buf)) < headerSize+ownerLen {
		return httpsession.Record{}, 0, errCorrupt
	}
	head := buf[:headerSize+ownerLen]
	if headerChecksum(head) != binary.BigEndian.Uint32(buf[36:]) {
		return httpsession.Record{}, 0, errCorrupt
	}
	rec := httpsession.Record{
		Version: binary.BigEndian.Uint64(buf[8:]),
		Expires: time.Unix(0, int64(binary.BigEndian.Uint64(buf[16:]))),
		Owner:   string(head[headerSize:]),
	}
	return rec, int(dataLen), nil
}

// decode parses a whole record file. Data aliases buf.
func decode(buf []byte) (httpsession.Record, error) {
	rec, dataLen, err := decodeHeader(buf, int64(len(buf)))
	if err != nil {
		return rec, err
	}
	data := buf[len(buf)-dataLen:]
	if crc32.Checksum(data, castagnoli) != binary.BigEndian.Uint32(buf[32:]) {
		return httpsession.Record{}, errCorrupt
	}
	rec.Data = data
	return rec, nil
}

// unixNano is t.UnixNano clamped to the int64 range, so that the zero time
// reads as long expired and a far-future time as never expiring.
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}
