package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/review"
)

// demoLogin is one demo person, with the password shown once.
type demoLogin struct {
	role     review.Role
	email    string
	password string
}

// demoEmail is the demo person of a role; .example is reserved for examples.
func demoEmail(role review.Role) string { return string(role) + "@omnitriage.example" }

// seedPeople creates the demo people, one per role, when there are no
// people at all, prints their logins and, with path, writes them there
// (mode 0600). A database that has people is left alone.
func seedPeople(ctx context.Context, w io.Writer, pool *pgxpool.Pool, path string, now time.Time) ([]demoLogin, error) {
	people := review.NewPeople(pool, nil)
	n, err := people.Count(ctx)
	if err != nil || n > 0 {
		return nil, err
	}
	var made []demoLogin
	for _, role := range review.Roles {
		pw, err := newDemoPassword()
		if err != nil {
			return nil, err
		}
		if _, err := people.Create(ctx, demoEmail(role), role, pw); err != nil {
			return nil, fmt.Errorf("creating demo person %s: %w", demoEmail(role), err)
		}
		made = append(made, demoLogin{role: role, email: demoEmail(role), password: pw})
	}
	fmt.Fprintf(w, "\nDemo logins for the review pages (/login), one per role. Add people with `omnitriage user create`.\n\n")
	if err := writeLogins(w, made); err != nil {
		return nil, err
	}
	if path != "" {
		if err := writeLoginsFile(path, made, now); err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "\nThe logins are also in %s (readable only by you).\n", path)
	}
	return made, nil
}

func writeLogins(w io.Writer, logins []demoLogin) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tEMAIL\tPASSWORD")
	for _, l := range logins {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", l.role, l.email, l.password)
	}
	return tw.Flush()
}

// newDemoPassword is 120 random bits as five groups of four letters and
// digits, easy to read off a terminal.
func newDemoPassword() (string, error) {
	var b [15]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	s := strings.ToLower(base32.StdEncoding.EncodeToString(b[:])) // 24 characters
	groups := make([]string, 0, 6)
	for i := 0; i < len(s); i += 4 {
		groups = append(groups, s[i:i+4])
	}
	return strings.Join(groups, "-"), nil
}

// writeLoginsFile writes the logins readable only by the owner, through a
// temporary file renamed into place.
func writeLoginsFile(path string, logins []demoLogin, now time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# omnitriage demo logins for the review pages, made by `omnitriage seed` at %s.\n", now.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "# Sign in at /login. Keep this file private; change a password with `omnitriage user reset-password`.\n")
	if err := writeLogins(&b, logins); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("writing demo logins: %w", err)
	}
	f, err := os.CreateTemp(dir, ".demo-logins-*")
	if err != nil {
		return fmt.Errorf("writing demo logins: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("writing demo logins: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("writing demo logins to %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing demo logins to %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing demo logins to %s: %w", path, err)
	}
	return nil
}
