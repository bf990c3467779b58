package open

import "testing"

func TestRedact(t *testing.T) {
	cases := map[string]string{
		"redis://:pw@127.0.0.1:6379/0":              "redis://:xxxxx@127.0.0.1:6379/0",
		"redis+cluster://u:pw@h1:1,h2:2":            "redis+cluster://u:xxxxx@h1:1,h2:2",
		"mysql://root:pw@tcp(127.0.0.1:3306)/db":    "mysql://root:xxxxx@tcp(127.0.0.1:3306)/db",
		"postgres://ann:pw@db:5432/app?sslmode=off": "postgres://ann:xxxxx@db:5432/app?sslmode=off",
		"postgres://ann@db:5432/app":                "postgres://ann@db:5432/app",
		"memcache://h1:11211":                       "memcache://h1:11211",
		"bolt:/var/lib/x.db":                        "bolt:/var/lib/x.db",
		"redis+sentinel://:pw@h1:1,h2:2/m/0?prefix=a&sentinel_password=spw&sentinel_username=u": "redis+sentinel://:xxxxx@h1:1,h2:2/m/0?prefix=a&sentinel_password=xxxxx&sentinel_username=u",
		"redis+sentinel://h1:1/m?sentinel_password=s%26p#frag":                                  "redis+sentinel://h1:1/m?sentinel_password=xxxxx",
		"postgres://ann@db/app?sslmode=off&Password=pw":                                         "postgres://ann@db/app?sslmode=off&Password=xxxxx",
		"mysql://root:p?w@tcp(h:1)/db?password=x":                                               "mysql://root:xxxxx@tcp(h:1)/db?password=xxxxx",
	}
	for in, want := range cases {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactMySQLPasswordsWithSeparators(t *testing.T) {
	for in, want := range map[string]string{
		"mysql://root:s3/cret@tcp(h:1)/x": "mysql://root:xxxxx@tcp(h:1)/x",
		"mysql://a#b:s3cret@/x":           "mysql://a#b:xxxxx@/x",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
