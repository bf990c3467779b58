package storekey_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/storekey"
)

func TestValid(t *testing.T) {
	good := httpsession.StoreKey("token")
	for key, want := range map[string]bool{
		good:                            true,
		strings.Repeat("0", 64):         true,
		strings.Repeat("f", 64):         true,
		"":                              false,
		good[:63]:                       false,
		good + "0":                      false,
		strings.ToUpper(good):           good == strings.ToUpper(good),
		strings.Repeat("g", 64):         false,
		"../" + good[3:]:                false,
		good[:60] + " \r\n" + good[63:]: false,
		good[:63] + "\x00":              false,
	} {
		if got := storekey.Valid(key); got != want {
			t.Errorf("Valid(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestCheckSize(t *testing.T) {
	for _, c := range []struct {
		name    string
		rec     httpsession.Record
		tooMuch string
	}{
		{"within both limits", httpsession.Record{Data: make([]byte, 10), Owner: "ann"}, ""},
		{"at both limits", httpsession.Record{Data: make([]byte, 100), Owner: strings.Repeat("a", 8)}, ""},
		{"data over", httpsession.Record{Data: make([]byte, 101)}, "data of 101 bytes over the limit of 100"},
		{"owner over", httpsession.Record{Owner: strings.Repeat("a", 9)}, "owner of 9 bytes over the limit of 8"},
	} {
		err := storekey.CheckSize("somestore: put", c.rec, 100, 8)
		switch {
		case c.tooMuch == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.tooMuch != "" && (!errors.Is(err, httpsession.ErrTooLarge) || !strings.HasPrefix(err.Error(), "somestore: put: "+c.tooMuch)):
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
