package open

import (
	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/memcachestore"
)

// openMemcache opens memcache://H1:P1,H2:P2.
func openMemcache(rest string) (httpsession.Store, func() error, error) {
	_, hosts, err := splitHosts(rest)
	if err != nil {
		return nil, nil, err
	}
	s, err := memcachestore.NewServers(hosts...)
	if err != nil {
		return nil, nil, err
	}
	return s, s.Close, nil
}
