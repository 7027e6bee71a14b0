package review

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/web"
)

// Role is what a person may do on the review pages.
type Role string

// The roles. Admin may do everything the others may.
const (
	Support  Role = "support"  // works the review queue and decides cases
	Engineer Role = "engineer" // process engineers: clusters, dashboard, and the queue
	Admin    Role = "admin"    // everything, and the people
)

// Roles lists every role, least to most.
var Roles = []Role{Support, Engineer, Admin}

// ParseRole checks s names a role.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("role %q: want support, engineer or admin: %w", s, derrors.Invalid)
}

// User is a person who signs in.
type User struct {
	ID         int64
	Email      string
	Role       Role
	CreatedAt  time.Time
	DisabledAt *time.Time
	// sessionsAfter voids sessions begun before it.
	sessionsAfter time.Time
}

// Can says whether u has one of roles; admin has every role.
func (u User) Can(roles ...Role) bool {
	return u.Role == Admin || slices.Contains(roles, u.Role)
}

// Actor names u in audit records: "role:email", as API callers are named
// "role:key-name".
func (u User) Actor() string { return string(u.Role) + ":" + u.Email }

// NormalizeEmail trims and lower-cases an address and checks it is one
// address, without a display name.
func NormalizeEmail(s string) (string, error) {
	// Invalid UTF-8 and control characters are refused by the same check
	// every API field goes through, not folded into the stored address.
	if err := web.CheckText("email", s, false); err != nil {
		return "", err
	}
	e := strings.ToLower(strings.TrimSpace(s))
	if e == "" {
		return "", fmt.Errorf("the email is empty: %w", derrors.Invalid)
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" || len(e) > 254 {
		return "", fmt.Errorf("email %q is not an address like name@example.com: %w", s, derrors.Invalid)
	}
	return e, nil
}

// People keeps the users in PostgreSQL.
type People struct {
	pool  *pgxpool.Pool
	now   func() time.Time
	argon argonParams

	dummyOnce sync.Once
	dummy     string // a hash to verify against when no such user exists
}

// NewPeople returns the user store over pool; now is the clock (nil: time.Now).
func NewPeople(pool *pgxpool.Pool, now func() time.Time) *People {
	if now == nil {
		now = time.Now
	}
	return &People{pool: pool, now: now, argon: defaultArgon}
}

const userCols = `id, email, role, created_at, disabled_at, sessions_after`

func scanUser(row pgx.Row) (User, error) {
	var u User
	var role string
	if err := row.Scan(&u.ID, &u.Email, &role, &u.CreatedAt, &u.DisabledAt, &u.sessionsAfter); err != nil {
		return User{}, err
	}
	u.Role = Role(role)
	return u, nil
}

// Create adds a user with the given password.
func (p *People) Create(ctx context.Context, email string, role Role, password string) (_ User, err error) {
	defer derrors.Wrap(&err, "review.People.Create(%q, %q)", email, role)
	e, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, err
	}
	if err := CheckPassword(password); err != nil {
		return User{}, err
	}
	h, err := hashPassword(password, p.argon)
	if err != nil {
		return User{}, err
	}
	now := p.now()
	u, err := scanUser(p.pool.QueryRow(ctx, `
		INSERT INTO users (email, role, password_hash, created_at, sessions_after)
		VALUES ($1, $2, $3, $4, $4) RETURNING `+userCols, e, string(role), h, now))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return User{}, fmt.Errorf("a user %s already exists: %w", e, derrors.Conflict)
	}
	return u, err
}

// ByID returns the user with the given id.
func (p *People) ByID(ctx context.Context, id int64) (_ User, err error) {
	u, err := scanUser(p.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("no user %d: %w", id, derrors.NotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("review.People.ByID(%d): %w", id, err)
	}
	return u, nil
}

// ByEmail returns the user with the given address.
func (p *People) ByEmail(ctx context.Context, email string) (_ User, err error) {
	defer derrors.Wrap(&err, "review.People.ByEmail(%q)", email)
	e, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	u, err := scanUser(p.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE email = $1`, e))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("no user %s: %w", e, derrors.NotFound)
	}
	return u, err
}

// List returns every user, by email.
func (p *People) List(ctx context.Context) (_ []User, err error) {
	defer derrors.Wrap(&err, "review.People.List")
	rows, err := p.pool.Query(ctx, `SELECT `+userCols+` FROM users ORDER BY email`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
}

// Count returns how many users there are.
func (p *People) Count(ctx context.Context) (n int, err error) {
	err = p.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("review.People.Count: %w", err)
	}
	return n, nil
}

// errBadLogin is the one answer to a wrong email, a wrong password and a
// disabled account, so a login form cannot be used to learn which it was.
var errBadLogin = fmt.Errorf("wrong email or password: %w", derrors.Unauthorized)

// Authenticate returns the enabled user with this email and password.
// Every failure is errBadLogin, and costs the same hash whether the user
// exists or not.
func (p *People) Authenticate(ctx context.Context, email, password string) (User, error) {
	e, err := NormalizeEmail(email)
	if err != nil || len(password) > MaxPasswordLen {
		p.burnHash(password)
		return User{}, errBadLogin
	}
	var hash string
	var u User
	var role string
	err = p.pool.QueryRow(ctx, `SELECT `+userCols+`, password_hash FROM users WHERE email = $1`, e).
		Scan(&u.ID, &u.Email, &role, &u.CreatedAt, &u.DisabledAt, &u.sessionsAfter, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		p.burnHash(password)
		return User{}, errBadLogin
	}
	if err != nil {
		return User{}, fmt.Errorf("review.People.Authenticate(%q): %w", e, err)
	}
	u.Role = Role(role)
	ok, err := verifyPassword(password, hash)
	if err != nil {
		return User{}, fmt.Errorf("review.People.Authenticate(%q): user %d: %w", e, u.ID, err)
	}
	if !ok || u.DisabledAt != nil {
		return User{}, errBadLogin
	}
	return u, nil
}

// burnHash spends one password hash's time, so an unknown email answers
// as slowly as a known one.
func (p *People) burnHash(pw string) {
	p.dummyOnce.Do(func() { p.dummy, _ = hashPassword("not a password of anyone's", p.argon) })
	_, _ = verifyPassword(pw, p.dummy)
}

// SetPassword replaces a user's password and ends every session they have.
func (p *People) SetPassword(ctx context.Context, email, password string) (err error) {
	defer derrors.Wrap(&err, "review.People.SetPassword(%q)", email)
	if err := CheckPassword(password); err != nil {
		return err
	}
	h, err := hashPassword(password, p.argon)
	if err != nil {
		return err
	}
	return p.update(ctx, email, `password_hash = $2, sessions_after = $3`, h, p.now())
}

// Disable stops a user signing in and ends every session they have, at once.
func (p *People) Disable(ctx context.Context, email string) (err error) {
	defer derrors.Wrap(&err, "review.People.Disable(%q)", email)
	now := p.now()
	return p.update(ctx, email, `disabled_at = coalesce(disabled_at, $2), sessions_after = $3`, now, now)
}

// Enable lets a disabled user sign in again (with their old password).
func (p *People) Enable(ctx context.Context, email string) (err error) {
	defer derrors.Wrap(&err, "review.People.Enable(%q)", email)
	return p.update(ctx, email, `disabled_at = NULL`)
}

// update sets columns of the user with email and deletes their stored
// sessions in the same transaction. set uses $2… for args; $1 is the email.
func (p *People) update(ctx context.Context, email, set string, args ...any) error {
	e, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `UPDATE users SET `+set+` WHERE email = $1 RETURNING id`, append([]any{e}, args...)...).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("no user %s (see `omnitriage user list`): %w", e, derrors.NotFound)
		}
		if err != nil {
			return err
		}
		return deleteSessionsOf(ctx, tx, id)
	})
}

// deleteSessionsOf deletes the stored sessions of user id. Session data is
// encoded by the session library, so each live session is decoded to find
// its user; the request-time check (sessions_after) already refuses them,
// this only removes them from the store.
func deleteSessionsOf(ctx context.Context, tx pgx.Tx, id int64) error {
	rows, err := tx.Query(ctx, `SELECT token, data FROM sessions`)
	if err != nil {
		return err
	}
	var doomed []string
	codec := scs.GobCodec{}
	for rows.Next() {
		var token string
		var data []byte
		if err := rows.Scan(&token, &data); err != nil {
			rows.Close()
			return err
		}
		_, values, err := codec.Decode(data)
		if err != nil {
			continue // not ours to judge; it expires on its own
		}
		if uid, ok := values[sessionUserID].(int64); ok && uid == id {
			doomed = append(doomed, token)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(doomed) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE token = ANY($1)`, doomed); err != nil {
			return err
		}
	}
	return nil
}
