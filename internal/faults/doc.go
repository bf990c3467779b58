// Package faults holds fault-injection tests: the Manager's middleware under
// load while the store's server is killed and restarted, and in front of
// stores that block or panic. It has no code of its own, only tests.
//
// TestStoreOutage runs, for Redis (append-only, so data survives a kill),
// memcached, PostgreSQL and MariaDB, each on a private server started by
// internal/testservice: eight HTTP clients, each with its own session,
// send reads, Sets and Incrs through the middleware for a few seconds;
// mid-run the server gets SIGKILL and is restarted a moment later, under
// the same Manager and store. It checks that every response is a 2xx or
// the ErrorHandler's 503 (a connection dropped by a panic or a request
// that hangs counts as a failure), that the latency of every request
// stays within what Config.StoreTimeout allows, that requests succeed
// again within two seconds of the restart and every request started
// after that succeeds, that sessions written before the outage are intact
// afterwards on the persistent servers (and on memcached, which keeps
// nothing, that clients simply get a fresh session), and that no
// goroutine is left behind once everything is closed. It logs what it
// measured: requests by outcome, latencies, the time to recover, and the
// errors the ErrorHandler was given. The log lines of go-redis and
// go-sql-driver/mysql, which go to stderr by default, are counted
// instead.
//
// TestBlockingStore and TestPanickingStore put a wrapper around an
// in-memory store: one whose calls wait until their context ends, which
// the StoreTimeout must cut short with the ErrorHandler's answer, and one
// whose calls panic, to record what the middleware does with a store
// panic (see the test's comment).
//
// Where a server binary is missing, that store's subtest skips, or fails
// when HTTPSESSION_REQUIRE_SERVICES=1. All traffic stays on 127.0.0.1, and
// every loop is bounded in count and in time.
package faults
