package review_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omnitriage/omnitriage/models"
	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
	"github.com/omnitriage/omnitriage/triage"
)

// hostileWriter answers every prompt with markup, as a model repeating an
// exception's text (or told to by it) might.
type hostileWriter struct{}

func (hostileWriter) Complete(context.Context, []models.ChatMessage) (string, error) {
	return `<script>alert("x")</script> Carrier <b>API</b> timeouts on tracking since Tuesday.`, nil
}
func (hostileWriter) Model() string { return "test-model-7b" }

// TestClusterSummaryPage: with a model configured, an engineer asks for a
// summary from the cluster's page, and the page shows what the model wrote
// as inert text, marked machine-written, with its model; support staff
// cannot ask. Without a model there is no button, and asking is a 503.
func TestClusterSummaryPageScreenshot(t *testing.T) {
	t.Parallel()
	srv := reviewtest.NewServer(t, reviewtest.Options{ClusterConfig: triage.ClusterConfig{Writer: hostileWriter{}, SummaryTop: -1}})
	clusterDemo(t, srv)
	ctx := context.Background()
	id := clusterIDOf(t, srv, "carrier api timeout")
	page := fmt.Sprintf("/clusters/%d", id)

	support := reviewtest.NewClient(t, srv.URL)
	support.Login("sam@example.com", reviewtest.CreateUser(t, srv.Review.People(), "sam@example.com", review.Support))
	eng := reviewtest.NewClient(t, srv.URL)
	evePW := reviewtest.CreateUser(t, srv.Review.People(), "eve@example.com", review.Engineer)
	eng.Login("eve@example.com", evePW)

	jobs := func() int {
		t.Helper()
		var n int
		if err := srv.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'cluster_summary'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, body := eng.Get(page); !strings.Contains(body, "Write summary") || !strings.Contains(body, "No summary yet") {
		t.Error("the engineer's cluster page has no Write summary button, or claims a summary")
	}
	if resp, _ := support.PostForm(page+"/summary", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("support POST %s/summary = %d, want 403", page, resp.StatusCode)
	}
	if n := jobs(); n != 0 {
		t.Fatalf("%d summary jobs after support's refused request, want 0", n)
	}
	if resp, _ := eng.PostForm(page+"/summary", url.Values{}); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != page {
		t.Fatalf("engineer POST %s/summary = %d to %q, want 303 back to the page", page, resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, body := eng.Get(page); !strings.Contains(body, "summary of cluster") {
		t.Error("the page after the request does not say a summary was requested")
	}
	if n := jobs(); n != 1 {
		t.Fatalf("%d summary jobs after the engineer's request, want 1", n)
	}
	// The job's work, as River's worker does it (this server runs no workers).
	if written, err := srv.Clusters.Summarize(ctx, triage.ClusterSummaryArgs{ClusterID: id, Trigger: "page", Actor: "user:eve@example.com",
		RequestedAt: time.Now().Add(-time.Second)}); err != nil || !written {
		t.Fatalf("Summarize = %v, %v; want written", written, err)
	}
	_, body := eng.Get(page)
	if strings.Contains(body, `<script>alert`) || strings.Contains(body, "<b>API</b>") {
		t.Error("the model's markup reaches the page unescaped")
	}
	for _, want := range []string{"machine-written", "test-model-7b", "Carrier", "timeouts on tracking since Tuesday", "The prompt it was written from", "asked for by"} {
		if !strings.Contains(body, want) {
			t.Errorf("the cluster page with a summary lacks %q", want)
		}
	}
	if dir := os.Getenv("SCREENSHOTS"); dir != "" {
		b := reviewtest.Browser(t)
		if err := reviewtest.Login(b, srv.URL, "eve@example.com", evePW); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(b, chromedp.Navigate(srv.URL+page)); err != nil {
			t.Fatal(err)
		}
		reviewtest.ScreenshotViewport(t, b, filepath.Join(dir, "cluster-summary.png"))
	}

	// Without a model: no button, and asking says what to configure.
	plain := reviewtest.NewServer(t, reviewtest.Options{})
	clusterDemo(t, plain)
	pid := clusterIDOf(t, plain, "carrier api timeout")
	eng2 := reviewtest.NewClient(t, plain.URL)
	eng2.Login("eve@example.com", reviewtest.CreateUser(t, plain.Review.People(), "eve@example.com", review.Engineer))
	if _, body := eng2.Get(fmt.Sprintf("/clusters/%d", pid)); strings.Contains(body, "Write summary") || strings.Contains(body, "machine-written") {
		t.Error("without LLM_URL the cluster page offers or shows a summary")
	}
	if resp, body := eng2.PostForm(fmt.Sprintf("/clusters/%d/summary", pid), url.Values{}); resp.StatusCode != http.StatusServiceUnavailable ||
		!strings.Contains(body, "LLM_URL") {
		t.Errorf("POST summary without a model = %d, want 503 naming LLM_URL:\n%.800s", resp.StatusCode, body)
	}
}
