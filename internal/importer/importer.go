// Package importer holds what imports from other comment systems need
// beyond the store: comment ids derived from the source's own ids, and the
// conversion of the HTML those systems store into the Markdown commentd
// stores.
package importer

import (
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/google/uuid"
)

// ID returns the commentd id of the comment that source (for example
// "wordpress") knows as sourceID, imported into site: a UUIDv7 whose time
// is at's millisecond and whose other bits come from a hash of site, source
// and sourceID. The same comment imported again into the same site gets the
// same id, so a second import of one file clashes instead of doubling the
// comments; the same file imported into another site gets other ids.
func ID(at time.Time, site, source, sourceID string) string {
	h := sha256.New()
	for _, s := range []string{site, source, sourceID} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	sum := h.Sum(nil)
	ms := max(at.UnixMilli(), 0)
	var u uuid.UUID
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(ms))
	copy(u[0:6], t[2:8])
	copy(u[6:], sum[:10])
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 9562 variant
	return u.String()
}
