package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/sqlstore"
)

func Example() {
	dir, err := os.MkdirTemp("", "sqlstore-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The program opens the database with the driver of its choice.
	// SQLiteDSN creates the file 0600 first.
	dsn, err := sqlstore.SQLiteDSN(filepath.Join(dir, "sessions.db"))
	if err != nil {
		log.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	s, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.SQLite, AutoCreate: true})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	// Keys are what the Manager derives from tokens: SHA-256 in hex.
	key := "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	expires := time.Now().Add(30 * time.Minute)

	v1, _ := s.Put(ctx, key, httpsession.Record{Data: []byte("cart=1"), Owner: "alice", Expires: expires})
	rec, _ := s.Get(ctx, key)
	fmt.Printf("%s, owned by %s\n", rec.Data, rec.Owner)

	// A second create of the same key loses.
	_, err = s.Put(ctx, key, httpsession.Record{Data: []byte("cart=0"), Expires: expires})
	fmt.Println("second create conflicts:", errors.Is(err, httpsession.ErrConflict))

	// Put is a compare-and-set: the first writer holding v1 wins...
	_, err = s.Put(ctx, key, httpsession.Record{Data: []byte("cart=2"), Owner: "alice", Expires: expires, Version: v1})
	fmt.Println("first writer:", err)
	// ...and a second one holding v1 must reload and try again.
	_, err = s.Put(ctx, key, httpsession.Record{Data: []byte("cart=9"), Owner: "alice", Expires: expires, Version: v1})
	fmt.Println("second writer conflicts:", errors.Is(err, httpsession.ErrConflict))

	keys, _ := s.OwnerKeys(ctx, "alice")
	fmt.Println("alice's sessions:", len(keys))
	// Output:
	// cart=1, owned by alice
	// second create conflicts: true
	// first writer: <nil>
	// second writer conflicts: true
	// alice's sessions: 1
}

// The store on PostgreSQL through pgx, with the table created by a
// migration rather than by New.
func ExampleNew_postgres() {
	// import _ "github.com/jackc/pgx/v5/stdlib"
	db, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	s, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.Postgres, Table: "web_sessions"})
	if err != nil {
		log.Fatal(err) // e.g. sqlstore: cannot reach the postgres database: ...
	}
	m, err := httpsession.New(httpsession.Config{Store: s})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
}
