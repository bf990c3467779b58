package open

import (
	"fmt"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/boltstore"
	"github.com/httpsession/httpsession/store/filestore"
	"github.com/httpsession/httpsession/store/memstore"
)

// openEmbedded opens the stores that need no server: mem:, file:, bolt:.
func openEmbedded(scheme, rest string) (httpsession.Store, func() error, error) {
	switch scheme {
	case "mem", "memory":
		if rest != "" {
			return nil, nil, fmt.Errorf("mem: takes no path")
		}
		s := memstore.New(memstore.Options{})
		return s, s.Close, nil
	case "file":
		if rest == "" {
			return nil, nil, fmt.Errorf("file: needs a directory, as in file:/var/lib/sessions")
		}
		s, err := filestore.New(rest, filestore.Options{})
		if err != nil {
			return nil, nil, err
		}
		return s, nopClose, nil
	case "bolt", "bbolt":
		if rest == "" {
			return nil, nil, fmt.Errorf("bolt: needs a file path, as in bolt:sessions.db")
		}
		s, err := boltstore.Open(rest, boltstore.Options{})
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	}
	return nil, nil, fmt.Errorf("unknown scheme %q", scheme)
}
