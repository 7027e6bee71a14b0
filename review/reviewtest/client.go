package reviewtest

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// Client is an HTTP client that acts like a browser's forms: it keeps
// cookies, does not follow redirects (so a test sees them), and sends an
// Origin header on state-changing requests, as browsers do.
type Client struct {
	t       testing.TB
	BaseURL string
	// Origin is sent on POSTs; "" sends none (a request that names no origin).
	Origin string
	HTTP   *http.Client
}

// NewClient returns a client of the server at baseURL.
func NewClient(t testing.TB, baseURL string) *Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{t: t, BaseURL: baseURL, Origin: baseURL, HTTP: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Do sends req and returns the response and its body.
func (c *Client) Do(req *http.Request) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return resp, string(b)
}

// Get fetches path.
func (c *Client) Get(path string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.BaseURL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.Do(req)
}

// PostForm posts a form to path, with the client's Origin.
func (c *Client) PostForm(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.BaseURL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.Origin != "" {
		req.Header.Set("Origin", c.Origin)
	}
	return c.Do(req)
}

// Login signs in through the form and fails t unless it is sent on (303).
func (c *Client) Login(email, password string) {
	c.t.Helper()
	resp, body := c.PostForm("/login", url.Values{"email": {email}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("signing in as %s: status %d, want 303; body:\n%s", email, resp.StatusCode, body)
	}
}

// Cookie returns the client's cookie named name for the server, if any.
func (c *Client) Cookie(name string) *http.Cookie {
	u, _ := url.Parse(c.BaseURL)
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}
