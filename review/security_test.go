package review_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
)

const cookieName = "omnitriage_session"

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// sessionCount is how many sessions the store holds.
func sessionCount(t *testing.T, srv *reviewtest.Server) int {
	t.Helper()
	var n int
	if err := srv.Pool.QueryRow(context.Background(), `SELECT count(*) FROM sessions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// wantSignIn checks resp sends the person to sign in.
func wantSignIn(t *testing.T, resp *http.Response, what string) {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("%s: status %d, Location %q; want 303 to /login", what, resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestNoSessionRedirectsToLogin(t *testing.T) {
	t.Parallel()
	srv := reviewtest.NewServer(t, reviewtest.Options{})
	c := reviewtest.NewClient(t, srv.URL)
	for _, tc := range []struct{ path, next string }{
		{"/review", "/login?next=%2Freview"},
		{"/review?kind=stockout", "/login?next=%2Freview%3Fkind%3Dstockout"},
		{"/admin/users", "/login?next=%2Fadmin%2Fusers"},
		{"/", "/review"},
	} {
		resp, _ := c.Get(tc.path)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tc.next {
			t.Errorf("GET %s = %d to %q, want 303 to %q", tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.next)
		}
	}
	// A POST without a session is refused, not redirected (its form would be lost).
	resp, _ := c.PostForm("/logout", nil)
	if resp.StatusCode != http.StatusSeeOther { // logout of no session is harmless and goes to sign in
		t.Errorf("POST /logout without a session = %d, want 303", resp.StatusCode)
	}
}

func TestLoginNext(t *testing.T) {
	t.Parallel()
	srv := reviewtest.NewServer(t, reviewtest.Options{})
	pw := reviewtest.CreateUser(t, srv.Review.People(), "nia@example.com", review.Admin)
	for _, tc := range []struct{ next, want string }{
		{"/admin/users", "/admin/users"},
		{"/review?kind=stockout", "/review?kind=stockout"},
		{"", "/review"},
		{"//evil.example/x", "/review"},
		{"https://evil.example/", "/review"},
		{`/\evil.example`, "/review"},
		{"/login", "/review"},
	} {
		c := reviewtest.NewClient(t, srv.URL)
		resp, body := c.PostForm("/login", url.Values{"email": {"Nia@Example.com "}, "password": {pw}, "next": {tc.next}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tc.want {
			t.Errorf("sign in with next=%q: %d to %q, want 303 to %q\n%s", tc.next, resp.StatusCode, resp.Header.Get("Location"), tc.want, body)
		}
	}
}

func TestWrongPasswordsAreRateLimited(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	limits := review.LoginLimits{Window: 15 * time.Minute, PerAccount: 3, PerAddress: 5}
	srv := reviewtest.NewServer(t, reviewtest.Options{Clock: clock.Now, Limits: limits})
	pw := reviewtest.CreateUser(t, srv.Review.People(), "ola@example.com", review.Support)
	c := reviewtest.NewClient(t, srv.URL)
	login := func(email, password string) (*http.Response, string) {
		return c.PostForm("/login", url.Values{"email": {email}, "password": {password}})
	}

	for i := range limits.PerAccount {
		resp, body := login("ola@example.com", "not the password")
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong email or password.") {
			t.Fatalf("wrong password %d: status %d, want 401 with the message", i+1, resp.StatusCode)
		}
		clock.Add(time.Minute)
	}
	// Limited now: even the right password is refused, with a clear message.
	resp, body := login("ola@example.com", pw)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after %d wrong passwords: status %d, want 429", limits.PerAccount, resp.StatusCode)
	}
	if !strings.Contains(body, "Too many failed sign-ins for this account") || !strings.Contains(body, "try again in 12 minutes") {
		t.Errorf("the limited page does not say why and for how long:\n%s", body)
	}
	if resp.Header.Get("Retry-After") != "720" {
		t.Errorf("Retry-After = %q, want 720", resp.Header.Get("Retry-After"))
	}
	if c.Cookie(cookieName) != nil {
		t.Errorf("a refused sign-in set a session cookie")
	}

	// Once the first failure is older than the window, one more try is allowed.
	clock.Add(12 * time.Minute)
	c.Login("ola@example.com", pw)

	// Per address: many accounts guessed from one address.
	c2 := reviewtest.NewClient(t, srv.URL)
	for i := range limits.PerAddress {
		resp, _ := c2.PostForm("/login", url.Values{"email": {"guess" + string(rune('a'+i)) + "@example.com"}, "password": {"x"}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: status %d, want 401", i, resp.StatusCode)
		}
	}
	resp, body = c2.PostForm("/login", url.Values{"email": {"ola@example.com"}, "password": {pw}})
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "this network address") {
		t.Errorf("after %d failures from one address: status %d, want 429 naming the address", limits.PerAddress, resp.StatusCode)
	}
}

func TestRolesOnPages(t *testing.T) {
	t.Parallel()
	srv := reviewtest.NewServer(t, reviewtest.Options{})
	people := srv.Review.People()
	pws := map[review.Role]string{}
	for _, r := range review.Roles {
		pws[r] = reviewtest.CreateUser(t, people, string(r)+"@example.com", r)
	}
	for _, tc := range []struct {
		role   review.Role
		path   string
		status int
	}{
		{review.Support, "/review", 200},
		{review.Support, "/admin/users", 403},
		{review.Engineer, "/review", 200},
		{review.Engineer, "/admin/users", 403},
		{review.Admin, "/review", 200},
		{review.Admin, "/admin/users", 200},
	} {
		c := reviewtest.NewClient(t, srv.URL)
		c.Login(string(tc.role)+"@example.com", pws[tc.role])
		resp, body := c.Get(tc.path)
		if resp.StatusCode != tc.status {
			t.Errorf("%s GET %s = %d, want %d", tc.role, tc.path, resp.StatusCode, tc.status)
			continue
		}
		switch tc.status {
		case 403:
			if !strings.Contains(body, "<h1 id=\"error-title\">Not allowed</h1>") || !strings.Contains(body, "this page is for admin") {
				t.Errorf("%s GET %s: the 403 page does not say why:\n%s", tc.role, tc.path, body)
			}
			if strings.Contains(body, "engineer@example.com") && tc.role != review.Engineer {
				t.Errorf("the 403 page leaked the user list")
			}
		case 200:
			if tc.path == "/admin/users" && !strings.Contains(body, "support@example.com") {
				t.Errorf("the people page does not list support@example.com")
			}
		}
		if strings.Contains(body, ">People</a>") != (tc.role == review.Admin) {
			t.Errorf("%s: nav shows People = %v, want only for admin", tc.role, !(tc.role == review.Admin))
		}
	}
}

// TestCrossOriginPostRefused sends sign-out, a state-changing form, the
// ways another site (or a script with no browser) could, and checks each
// is refused and the session still works.
func TestCrossOriginPostRefused(t *testing.T) {
	t.Parallel()
	srv := reviewtest.NewServer(t, reviewtest.Options{})
	pw := reviewtest.CreateUser(t, srv.Review.People(), "pia@example.com", review.Support)
	c := reviewtest.NewClient(t, srv.URL)
	c.Login("pia@example.com", pw)

	for _, tc := range []struct {
		name    string
		headers map[string]string
	}{
		{"other origin", map[string]string{"Origin": "https://evil.example"}},
		{"cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}},
		{"same-site subdomain", map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"no origin, no fetch site", map[string]string{}},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/logout", nil)
		for k, v := range tc.headers {
			req.Header.Set(k, v)
		}
		resp, body := c.Do(req)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "nothing was changed") {
			t.Errorf("%s: POST /logout = %d, want the 403 page", tc.name, resp.StatusCode)
		}
		if r, _ := c.Get("/review"); r.StatusCode != http.StatusOK {
			t.Fatalf("%s: after the refused sign-out /review = %d; the session was ended", tc.name, r.StatusCode)
		}
	}
	// A sign-in from another site makes no session and records no failure.
	before := sessionCount(t, srv)
	evil := reviewtest.NewClient(t, srv.URL)
	evil.Origin = "https://evil.example"
	resp, _ := evil.PostForm("/login", url.Values{"email": {"pia@example.com"}, "password": {pw}})
	if resp.StatusCode != http.StatusForbidden || evil.Cookie(cookieName) != nil {
		t.Errorf("cross-origin sign-in = %d (cookie %v), want 403 and no session", resp.StatusCode, evil.Cookie(cookieName))
	}
	var failures int
	_ = srv.Pool.QueryRow(context.Background(), `SELECT count(*) FROM login_failures`).Scan(&failures)
	if n := sessionCount(t, srv); n != before || failures != 0 {
		t.Errorf("after a refused sign-in: %d sessions (was %d), %d failures; want nothing changed", n, before, failures)
	}
	// The same sign-out from this site works.
	resp, _ = c.PostForm("/logout", nil)
	wantSignIn(t, resp, "same-origin sign-out")
}

func TestSessionCookie(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		srv := reviewtest.NewServer(t, reviewtest.Options{Secure: secure})
		pw := reviewtest.CreateUser(t, srv.Review.People(), "quinn@example.com", review.Support)
		c := reviewtest.NewClient(t, srv.URL)
		// A session before sign-in (the signed-out flash) has a token that
		// must not survive the sign-in.
		c.PostForm("/logout", nil)
		before := c.Cookie(cookieName)
		if before == nil {
			t.Fatal("no session cookie before signing in")
		}
		resp, _ := c.PostForm("/login", url.Values{"email": {"quinn@example.com"}, "password": {pw}})
		var ck *http.Cookie
		for _, k := range resp.Cookies() {
			if k.Name == cookieName {
				ck = k
			}
		}
		if ck == nil {
			t.Fatal("signing in set no session cookie")
		}
		raw := resp.Header.Get("Set-Cookie")
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure != secure {
			t.Errorf("secure=%v: cookie %q: want HttpOnly, SameSite=Lax, Path=/, Secure=%v", secure, raw, secure)
		}
		if !ck.Expires.IsZero() || ck.MaxAge != 0 {
			t.Errorf("cookie %q outlives the browser; want a session cookie", raw)
		}
		if ck.Value == before.Value {
			t.Errorf("the session token was not renewed at sign-in")
		}
		var n int
		_ = srv.Pool.QueryRow(context.Background(), `SELECT count(*) FROM sessions WHERE token = $1`, before.Value).Scan(&n)
		if n != 0 {
			t.Errorf("the pre-sign-in token is still in the store")
		}
	}
}

// replay is a client that presents a copied session cookie.
func replay(t *testing.T, srv *reviewtest.Server, token string) *reviewtest.Client {
	c := reviewtest.NewClient(t, srv.URL)
	u, _ := url.Parse(srv.URL)
	c.HTTP.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: token, Path: "/"}})
	return c
}

func TestLogoutEndsSessionServerSide(t *testing.T) {
	t.Parallel()
	srv := reviewtest.NewServer(t, reviewtest.Options{})
	pw := reviewtest.CreateUser(t, srv.Review.People(), "rui@example.com", review.Support)
	c := reviewtest.NewClient(t, srv.URL)
	c.Login("rui@example.com", pw)
	token := c.Cookie(cookieName).Value
	if r, _ := replay(t, srv, token).Get("/review"); r.StatusCode != http.StatusOK {
		t.Fatalf("the copied cookie does not work before sign-out: %d", r.StatusCode)
	}
	resp, _ := c.PostForm("/logout", nil)
	wantSignIn(t, resp, "sign-out")
	// The old cookie, kept by someone, is worth nothing now.
	r, _ := replay(t, srv, token).Get("/review")
	wantSignIn(t, r, "old cookie after sign-out")
	var n int
	_ = srv.Pool.QueryRow(context.Background(), `SELECT count(*) FROM sessions WHERE token = $1`, token).Scan(&n)
	if n != 0 {
		t.Errorf("the session is still in the store after sign-out")
	}
}

func TestDisabledAndResetUsersLoseSessions(t *testing.T) {
	t.Parallel()
	srv := reviewtest.NewServer(t, reviewtest.Options{})
	people := srv.Review.People()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		act  func(email string) error
	}{
		{"disable", func(e string) error { return people.Disable(ctx, e) }},
		{"reset-password", func(e string) error { return people.SetPassword(ctx, e, "a brand new password") }},
	} {
		email := tc.name + "@example.com"
		pw := reviewtest.CreateUser(t, people, email, review.Support)
		a, b := reviewtest.NewClient(t, srv.URL), reviewtest.NewClient(t, srv.URL)
		a.Login(email, pw)
		b.Login(email, pw)
		tokens := []string{a.Cookie(cookieName).Value, b.Cookie(cookieName).Value}
		if r, _ := a.Get("/review"); r.StatusCode != http.StatusOK {
			t.Fatalf("%s: /review before = %d", tc.name, r.StatusCode)
		}
		if err := tc.act(email); err != nil {
			t.Fatal(err)
		}
		var n int
		_ = srv.Pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE token = ANY($1)`, tokens).Scan(&n)
		if n != 0 {
			t.Errorf("%s: %d of the user's sessions are still stored", tc.name, n)
		}
		for i, c := range []*reviewtest.Client{a, b} {
			r, _ := c.Get("/review")
			wantSignIn(t, r, tc.name+": session "+string(rune('1'+i)))
		}
	}
	// A disabled user cannot sign in, and is told only "wrong email or password".
	c := reviewtest.NewClient(t, srv.URL)
	resp, body := c.PostForm("/login", url.Values{"email": {"disable@example.com"}, "password": {"whatever it was"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong email or password.") {
		t.Errorf("disabled user's sign-in = %d, want 401 wrong email or password", resp.StatusCode)
	}
}

// TestSessionCheckedEveryRequest disables a user behind the server's back
// (as another replica would): the stored session is gone from no cache.
func TestSessionCheckedEveryRequest(t *testing.T) {
	t.Parallel()
	srv := reviewtest.NewServer(t, reviewtest.Options{})
	pw := reviewtest.CreateUser(t, srv.Review.People(), "sam@example.com", review.Support)
	c := reviewtest.NewClient(t, srv.URL)
	c.Login("sam@example.com", pw)
	if r, _ := c.Get("/review"); r.StatusCode != http.StatusOK {
		t.Fatalf("/review = %d", r.StatusCode)
	}
	if _, err := srv.Pool.Exec(context.Background(), `UPDATE users SET disabled_at = now() WHERE email = 'sam@example.com'`); err != nil {
		t.Fatal(err)
	}
	r, _ := c.Get("/review")
	wantSignIn(t, r, "disabled in the table")
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Now()}
	srv := reviewtest.NewServer(t, reviewtest.Options{Clock: clock.Now})
	pw := reviewtest.CreateUser(t, srv.Review.People(), "xia@example.com", review.Support)

	// Idle: used every 50 minutes, the session lives on past the idle hour.
	c := reviewtest.NewClient(t, srv.URL)
	c.Login("xia@example.com", pw)
	for i := range 3 {
		clock.Add(50 * time.Minute)
		if r, _ := c.Get("/review"); r.StatusCode != http.StatusOK {
			t.Fatalf("request %d, 50 minutes after the one before: %d, want 200", i+1, r.StatusCode)
		}
	}
	clock.Add(61 * time.Minute)
	r, _ := c.Get("/review")
	wantSignIn(t, r, "after 61 idle minutes")

	// Absolute: however busy, a session ends 12 hours after sign-in.
	c = reviewtest.NewClient(t, srv.URL)
	c.Login("xia@example.com", pw)
	for range 23 {
		clock.Add(30 * time.Minute)
		if r, _ := c.Get("/review"); r.StatusCode != http.StatusOK {
			t.Fatalf("busy session ended early: %d", r.StatusCode)
		}
	}
	clock.Add(31 * time.Minute)
	r, _ = c.Get("/review")
	wantSignIn(t, r, "12 hours after sign-in")
}
