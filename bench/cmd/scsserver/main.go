// Command scsserver is the example app's API on alexedwards/scs, for the
// end-to-end comparison: the same routes (POST /api/count, GET /api/get,
// POST /api/put) and the same session settings (idle timeout, lifetime,
// HttpOnly SameSite=Lax cookie named "session"), on scs's memstore or its
// go-redis store.
//
//	scsserver -addr 127.0.0.1:8081 -store mem:
//	scsserver -addr 127.0.0.1:8081 -store redis://127.0.0.1:6379
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	store := flag.String("store", "mem:", "session store: mem: or redis://HOST:PORT")
	idle := flag.Duration("idle", 30*time.Minute, "idle timeout (0 for none); the example app's default")
	lifetime := flag.Duration("lifetime", 12*time.Hour, "absolute session lifetime; the example app's default")
	flag.Parse()
	if err := run(*addr, *store, *idle, *lifetime); err != nil {
		fmt.Fprintln(os.Stderr, "scsserver:", err)
		os.Exit(1)
	}
}

func run(addr, storeURL string, idle, lifetime time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	sm := scs.New()
	sm.IdleTimeout = idle
	sm.Lifetime = lifetime
	switch {
	case storeURL == "mem:":
		sm.Store = memstore.New()
	case strings.HasPrefix(storeURL, "redis://"):
		opts, err := redis.ParseURL(storeURL)
		if err != nil {
			return err
		}
		c := redis.NewClient(opts)
		defer c.Close()
		if err := c.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis %s: %w", opts.Addr, err)
		}
		sm.Store = goredisstore.New(c)
	default:
		return fmt.Errorf("store %q: want mem: or redis://HOST:PORT", storeURL)
	}

	srv := &http.Server{Addr: addr, Handler: sm.LoadAndSave(routes(sm)), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// routes are the example app's API routes, written for scs.
func routes(sm *scs.SessionManager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/put", func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Query().Get("key")
		if key == "" {
			http.Error(w, "missing key", http.StatusBadRequest)
			return
		}
		sm.Put(r.Context(), key, r.URL.Query().Get("value"))
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /api/get", func(w http.ResponseWriter, r *http.Request) {
		v := sm.Get(r.Context(), r.URL.Query().Get("key"))
		if v == nil {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, "%v\n", v)
	})
	mux.HandleFunc("POST /api/count", func(w http.ResponseWriter, r *http.Request) {
		n := sm.GetInt(r.Context(), "n") + 1
		sm.Put(r.Context(), "n", n)
		fmt.Fprintf(w, "%d\n", n)
	})
	return mux
}
