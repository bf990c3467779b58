package open

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/memcachestore"
)

// openMemcache opens memcache://H1:P1,H2:P2[?prefix=P&timeout=D]. The pool starts
// when one server answers; memcachestore logs those that do not.
func openMemcache(rest string) (httpsession.Store, func() error, error) {
	_, hosts, err := splitHosts(rest)
	if err != nil {
		return nil, nil, err
	}
	var opts memcachestore.Options
	if _, query, ok := strings.Cut(rest, "?"); ok {
		q, err := url.ParseQuery(query)
		if err != nil {
			return nil, nil, fmt.Errorf("query: %w", err)
		}
		for name, v := range q {
			switch name {
			case "prefix":
				if v[len(v)-1] == "" {
					return nil, nil, fmt.Errorf("prefix: want a non-empty key prefix")
				}
				opts.Prefix = v[len(v)-1]
			case "timeout":
				d, err := time.ParseDuration(v[len(v)-1])
				if err != nil || d <= 0 {
					return nil, nil, fmt.Errorf("timeout: want a positive duration such as 1s")
				}
				opts.Timeout = d
			default:
				return nil, nil, fmt.Errorf("unknown parameter %q (want prefix or timeout)", name)
			}
		}
	}
	s, err := memcachestore.NewPool(hosts, opts)
	if err != nil {
		return nil, nil, err
	}
	return s, s.Close, nil
}
