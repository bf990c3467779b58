package redisstore_test

import (
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/redisstore"
)

// Sessions in Redis behind a Manager. The example needs a Redis server on
// 127.0.0.1:6379, so it is compiled but not run by go test.
func Example() {
	// Any redis.UniversalClient: redis.NewFailoverClient for Sentinel,
	// redis.NewClusterClient for a Redis Cluster. ContextTimeoutEnabled
	// makes every call honour the request's deadline.
	client := redis.NewClient(&redis.Options{
		Addr:                  "127.0.0.1:6379",
		ContextTimeoutEnabled: true,
	})
	defer client.Close()

	// New pings the server: a wrong address fails here, not at the
	// first request.
	store, err := redisstore.New(client, redisstore.Options{Prefix: "shop:session:"})
	if err != nil {
		log.Fatal(err)
	}
	m, err := httpsession.New(httpsession.Config{Store: store, IdleTimeout: 30 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		visits := httpsession.SessionFrom(r.Context()).Incr("visits", 1)
		fmt.Fprintf(w, "visit %d\n", visits)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", m.Handler(mux)))
}

// A store on a Redis Cluster. Sessions spread over all masters; each
// write is one script on one slot.
func ExampleNew_cluster() {
	client := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 []string{"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"},
		ContextTimeoutEnabled: true,
		// One dial per try: an outage fails fast into the ErrorHandler
		// (503) instead of holding requests for seconds.
		DialerRetries: 1,
		// Reload the slot map every few seconds rather than every 60 s,
		// so that a failover is followed even where no error shows it.
		ClusterStateReloadInterval: 2 * time.Second,
	})
	defer client.Close()
	store, err := redisstore.New(client, redisstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	_ = store // Config.Store of a Manager
}

// A store on a primary and its replicas managed by Redis Sentinel: the
// client asks the sentinels for the primary and follows a failover.
func ExampleNew_sentinel() {
	client := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            "mymaster",
		SentinelAddrs:         []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"},
		ContextTimeoutEnabled: true,
		DialerRetries:         1,
	})
	defer client.Close()
	// New refuses a plain client connected to a sentinel's address:
	// sentinels answer PING but hold no sessions.
	store, err := redisstore.New(client, redisstore.Options{Prefix: "shop:session:"})
	if err != nil {
		log.Fatal(err)
	}
	_ = store // Config.Store of a Manager
}
