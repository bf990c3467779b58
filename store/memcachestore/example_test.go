package memcachestore_test

import (
	"log"
	"net/http"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/memcachestore"
)

// A Manager on two memcached servers. The example is compiled, not run:
// it needs the servers.
func Example() {
	// gomemcache spreads the sessions over both servers by key.
	client := memcache.New("cache-1.internal:11211", "cache-2.internal:11211")
	client.MaxIdleConns = 64 // about the number of concurrent requests
	client.Timeout = 200 * time.Millisecond

	store, err := memcachestore.New(client, memcachestore.Options{
		Prefix: "myapp:session:", // apart from the app's own cache keys
	})
	if err != nil {
		log.Fatal(err) // a server does not answer
	}
	defer store.Close()

	m, err := httpsession.New(httpsession.Config{Store: store, IdleTimeout: 30 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpsession.SessionFrom(r.Context()).Set("seen", true)
	})
	log.Fatal(http.ListenAndServe(":8080", m.Handler(mux)))
}

// NewServers is the short way, with the default Options.
func ExampleNewServers() {
	store, err := memcachestore.NewServers("cache-1.internal:11211", "cache-2.internal:11211")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
}

// NewPool starts while one server of the pool is down, and logs it; the
// sessions on the servers that answer are served at once.
func ExampleNewPool() {
	store, err := memcachestore.NewPool(
		[]string{"cache-1.internal:11211", "cache-2.internal:11211", "cache-3.internal:11211"},
		memcachestore.Options{Prefix: "shop:session:"},
	)
	if err != nil {
		log.Fatal(err) // no server answers
	}
	defer store.Close()
}
