package review

import (
	"testing"
	"time"
)

func TestAgo(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "just now"},
		{59 * time.Second, "just now"},
		{3 * time.Minute, "3 min ago"},
		{5*time.Hour + 10*time.Minute, "5 h ago"},
		{72 * time.Hour, "3 days ago"},
		{-30 * time.Second, "in under a minute"},
		{-3 * time.Minute, "in 3 min"},
		{-2 * time.Hour, "in 2 h"},
	} {
		if got := ago(tc.d); got != tc.want {
			t.Errorf("ago(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/review/cases/1?x=2", "/review/cases/1?x=2"},
		{"", "/review"},
		{"review", "/review"},
		{"//evil.example", "/review"},
		{"/\\evil.example", "/review"},
		{"https://evil.example/review", "/review"},
		{"/login?next=/x", "/review"},
	} {
		if got := safeNext(tc.in); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := hashPassword("correct horse battery", defaultArgon)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"correct horse battery", true}, {"correct horse batterY", false}, {"", false}} {
		if ok, err := verifyPassword(tc.pw, h); ok != tc.want || err != nil {
			t.Errorf("verifyPassword(%q) = %v, %v; want %v", tc.pw, ok, err, tc.want)
		}
	}
	h2, _ := hashPassword("correct horse battery", defaultArgon)
	if h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA", "plain"} {
		if _, err := verifyPassword("x", bad); err == nil {
			t.Errorf("verifyPassword against %q: no error", bad)
		}
	}
	for _, tc := range []struct {
		pw string
		ok bool
	}{{"twelve chars", true}, {"eleven char", false}, {"            ", false}, {string(make([]byte, 300)), false}} {
		if err := CheckPassword(tc.pw); (err == nil) != tc.ok {
			t.Errorf("CheckPassword(%d bytes) = %v, want ok %v", len(tc.pw), err, tc.ok)
		}
	}
}
