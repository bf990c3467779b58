package codec_test

import (
	"encoding/gob"
	"fmt"
	"time"

	"github.com/httpsession/httpsession/codec"
)

func ExampleJSON() {
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	in := codec.State{
		Values:   map[string]any{"user": "alice", "visits": 3, "seen": created},
		Created:  created,
		Deadline: created.Add(24 * time.Hour),
	}
	var c codec.JSON
	data, err := c.Encode(&in)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(data))

	var out codec.State
	if err := c.Decode(data, &out); err != nil {
		fmt.Println(err)
		return
	}
	// Values come back as JSON types; the State's own fields keep theirs.
	for _, k := range []string{"seen", "user", "visits"} {
		fmt.Printf("%s: %T %v\n", k, out.Values[k], out.Values[k])
	}
	fmt.Println("created:", out.Created.Equal(created))
	// Output:
	// {"values":{"seen":"2025-01-02T03:04:05Z","user":"alice","visits":3},"created":"2025-01-02T03:04:05Z","deadline":"2025-01-03T03:04:05Z"}
	// seen: string 2025-01-02T03:04:05Z
	// user: string alice
	// visits: int64 3
	// created: true
}

// Cart is an application type kept in a session.
type Cart struct {
	Items []string
	Total int
}

func ExampleGob() {
	// Gob carries a struct inside a session value only once it is
	// registered; do this once, at program start.
	gob.Register(Cart{})

	var c codec.Gob
	data, err := c.Encode(&codec.State{Values: map[string]any{"cart": Cart{[]string{"tea"}, 4}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	var out codec.State
	if err := c.Decode(data, &out); err != nil {
		fmt.Println(err)
		return
	}
	cart := out.Values["cart"].(Cart)
	fmt.Println(cart.Items, cart.Total)
	// Output: [tea] 4
}
