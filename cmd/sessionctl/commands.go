package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/sessions"
)

// command is one sessionctl command.
type command struct {
	name string
	arg  string // "KEY", "OWNER" or "" for none
	help string
	run  func(a *app, ctx context.Context, arg string) error
}

var commands = []command{
	{"list", "", "every live session", (*app).list},
	{"show", "KEY", "one session with its values", (*app).show},
	{"delete", "KEY", "delete one session", (*app).delete},
	{"owner", "OWNER", "the sessions of an owner", (*app).owner},
	{"destroy-owner", "OWNER", "end every session of an owner", (*app).destroyOwner},
	{"gc", "", "delete expired records (stores without native expiry)", (*app).gc},
	{"stats", "", "number of sessions, sizes, owners, oldest", (*app).stats},
	// compact works on the file, without a Store; run calls it directly.
	{"compact", "", "rewrite a bolt: file without its free pages (stop the application first)", nil},
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

func commandNames() string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// gcBatch bounds the records one DeleteExpired call removes, so no single
// store transaction grows with the backlog.
const gcBatch = 1000

func (a *app) list(ctx context.Context, _ string) error {
	if a.json {
		return a.scan(ctx, "list", func(info httpsession.SessionInfo) error {
			info.Values = nil
			return writeJSONLine(a.stdout, info)
		})
	}
	var all []httpsession.SessionInfo
	err := a.scan(ctx, "list", func(info httpsession.SessionInfo) error {
		info.Values = nil
		all = append(all, info)
		return nil
	})
	if err != nil {
		return err
	}
	return writeTable(a.stdout, all, "no live sessions")
}

func (a *app) show(ctx context.Context, key string) error {
	info, err := sessions.Inspect(ctx, a.m, key)
	if errors.Is(err, httpsession.ErrNotFound) {
		return fmt.Errorf("show: no live session with key %s: %w", key, httpsession.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("show: %w", a.decodeHint(ctx, key, err))
	}
	if a.json {
		return writeJSONIndent(a.stdout, jsonSafe(info))
	}
	return writeSession(a.stdout, info)
}

// decodeHint adds what usually causes it to an error of sessions.Inspect that came
// from decoding: the store still has the record.
func (a *app) decodeHint(ctx context.Context, key string, err error) error {
	if ctx.Err() != nil {
		return err
	}
	if _, gerr := a.store.Get(ctx, key); gerr != nil {
		return err
	}
	return fmt.Errorf("%w (is -codec %s the codec the application writes with? values of types registered with gob only in the application cannot be decoded here)", err, a.codecName)
}

func (a *app) delete(ctx context.Context, key string) error {
	err := sessions.Destroy(ctx, a.m, key)
	if errors.Is(err, httpsession.ErrNotFound) {
		return fmt.Errorf("delete: no live session with key %s: %w", key, httpsession.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if a.json {
		return writeJSONLine(a.stdout, map[string]any{"key": key, "deleted": true})
	}
	_, err = fmt.Fprintf(a.stdout, "deleted session %s\n", key)
	return err
}

func (a *app) owner(ctx context.Context, owner string) error {
	list, err := sessions.Of(ctx, a.m, owner)
	if err != nil {
		return fmt.Errorf("owner: %w", a.unsupported(err, "has no owner index and cannot list sessions"))
	}
	if a.json {
		for _, info := range list {
			info.Values = nil
			if err := writeJSONLine(a.stdout, info); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range list {
		list[i].Values = nil
	}
	return writeTable(a.stdout, list, fmt.Sprintf("no live sessions of owner %s", printable(owner)))
}

func (a *app) destroyOwner(ctx context.Context, owner string) error {
	// sessions.DestroyOwner also ends records the codec cannot decode: the owner
	// index and the records' own Owner field say whose they are.
	n, err := sessions.DestroyOwner(ctx, a.m, owner, nil)
	if err != nil {
		err = a.unsupported(err, "has no owner index and cannot list sessions")
		if n > 0 {
			return fmt.Errorf("destroy-owner: failed after destroying %d %s: %w", n, plural(n, "session"), err)
		}
		return fmt.Errorf("destroy-owner: %w", err)
	}
	if a.json {
		return writeJSONLine(a.stdout, map[string]any{"owner": owner, "destroyed": n})
	}
	_, err = fmt.Fprintf(a.stdout, "destroyed %d %s of owner %s\n", n, plural(n, "session"), printable(owner))
	return err
}

func (a *app) gc(ctx context.Context, _ string) error {
	c, ok := a.store.(httpsession.Cleaner)
	if !ok {
		return &cliError{exitUnsupported, fmt.Sprintf(
			"gc: the %s store expires records itself; there is nothing to collect", a.kind)}
	}
	bar := a.startProgress("deleting expired records")
	total := 0
	for {
		n, err := c.DeleteExpired(ctx, gcBatch)
		total += n
		bar.add(n)
		if errors.Is(err, httpsession.ErrNotSupported) && total == 0 {
			bar.done()
			return &cliError{exitUnsupported, fmt.Sprintf(
				"gc: the %s store expires records itself; there is nothing to collect", a.kind)}
		}
		if err != nil {
			bar.done()
			return fmt.Errorf("gc: after deleting %d expired records: %w", total, err)
		}
		if n < gcBatch {
			break
		}
	}
	bar.done()
	if a.json {
		return writeJSONLine(a.stdout, map[string]any{"deleted": total})
	}
	_, err := fmt.Fprintf(a.stdout, "deleted %d expired %s\n", total, plural(total, "record"))
	return err
}

// storeStats is what stats reports.
type storeStats struct {
	Sessions      int       `json:"sessions"`
	TotalBytes    int64     `json:"total_bytes"`
	AverageBytes  int64     `json:"average_bytes"`
	Owners        int       `json:"owners"`
	WithoutOwner  int       `json:"without_owner"`
	OldestCreated time.Time `json:"oldest_created,omitzero"`
}

func (a *app) stats(ctx context.Context, _ string) error {
	var st storeStats
	owners := map[string]struct{}{}
	err := a.scan(ctx, "stats", func(info httpsession.SessionInfo) error {
		st.Sessions++
		st.TotalBytes += int64(info.Size)
		if info.Owner == "" {
			st.WithoutOwner++
		} else {
			owners[info.Owner] = struct{}{}
		}
		if st.OldestCreated.IsZero() || info.Created.Before(st.OldestCreated) {
			st.OldestCreated = info.Created
		}
		return nil
	})
	if err != nil {
		return err
	}
	st.Owners = len(owners)
	if st.Sessions > 0 {
		st.AverageBytes = st.TotalBytes / int64(st.Sessions)
	}
	if a.json {
		return writeJSONLine(a.stdout, st)
	}
	return writeStats(a.stdout, st)
}

// scan calls fn for every live session, with a spinner on a terminal. It
// warns on stderr about records that the codec could not decode, which
// sessions.Iterate skips.
func (a *app) scan(ctx context.Context, what string, fn func(httpsession.SessionInfo) error) error {
	lister, ok := a.store.(httpsession.Lister)
	if !ok {
		return &cliError{exitUnsupported, fmt.Sprintf(
			"%s: the %s store cannot list sessions; show KEY, delete KEY and owner OWNER still work", what, a.kind)}
	}
	// A Manager of its own over a Lister that counts what it hands out:
	// the difference to what sessions.Iterate delivers is what did not decode.
	counter := &countingLister{Store: a.store, lister: lister}
	m, err := httpsession.New(httpsession.Config{Store: counter, Codec: a.codec, CleanupInterval: -1})
	if err != nil {
		return err
	}
	defer m.Close()
	bar := a.startProgress("scanning sessions")
	delivered := 0
	var fnErr error
	err = sessions.Iterate(ctx, m, func(info httpsession.SessionInfo) bool {
		delivered++
		bar.add(1)
		fnErr = fn(info)
		return fnErr == nil
	})
	bar.done()
	if err == nil {
		err = fnErr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if skipped := counter.n - delivered; skipped > 0 {
		fmt.Fprintf(a.stderr, "sessionctl: warning: skipped %d %s that codec %s could not decode (or that expired during the scan)\n",
			skipped, plural(skipped, "record"), a.codecName)
	}
	return nil
}

// countingLister passes List through and counts the records it yields.
type countingLister struct {
	httpsession.Store
	lister httpsession.Lister
	n      int
}

func (c *countingLister) List(ctx context.Context, fn func(string, httpsession.Record) bool) error {
	return c.lister.List(ctx, func(key string, rec httpsession.Record) bool {
		c.n++
		return fn(key, rec)
	})
}

// unsupported rewrites ErrNotSupported into a message naming the store.
func (a *app) unsupported(err error, why string) error {
	if errors.Is(err, httpsession.ErrNotSupported) {
		return &cliError{exitUnsupported, fmt.Sprintf("the %s store %s", a.kind, why)}
	}
	return err
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// sortByCreated orders sessions oldest first, then by key.
func sortByCreated(s []httpsession.SessionInfo) {
	slices.SortFunc(s, func(x, y httpsession.SessionInfo) int {
		if c := x.Created.Compare(y.Created); c != 0 {
			return c
		}
		return strings.Compare(x.Key, y.Key)
	})
}
