package triage

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

// clusterFixture is a triage fixture with a clusterer attached.
type clusterFixture struct {
	*fixture
	c *Clusterer
}

func newClusterFixture(t testing.TB, cfg ClusterConfig) *clusterFixture {
	t.Helper()
	f := newFixture(t, fixtureOptions{})
	return &clusterFixture{fixture: f, c: NewClusterer(f.svc, cfg)}
}

// report sends each message through triage's report intake (POST
// /v1/exceptions), as an outside system would, occurring at at.
// reportSeq numbers the fixture's reports.
var reportSeq atomic.Int64

func (f *clusterFixture) report(t testing.TB, kind, endpoint string, at time.Time, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		// Each report names its own SKU: the same message again is a new
		// occurrence of the problem elsewhere, not a repeat of an open
		// case (which intake would fold into that case, adding no
		// exception); clusters are keyed by kind, code and system, not SKU.
		sku := fmt.Sprintf("SKU-%06d", reportSeq.Add(1))
		if _, err := f.svc.Report(context.Background(), "test-system", orchestration.Exception{Kind: kind, Severity: "medium",
			Endpoint: endpoint, SKU: sku, Message: m, OccurredAt: at}, nil); err != nil {
			t.Fatalf("Report(%q): %v", m, err)
		}
	}
}

func (f *clusterFixture) run(t testing.TB) RunSummary {
	t.Helper()
	sum, err := f.c.Run(context.Background(), RunOptions{Trigger: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// membership maps each exception's message to its cluster id.
func (f *clusterFixture) membership(t testing.TB) map[string]int64 {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT e.message, m.cluster_id FROM cluster_members m JOIN exceptions e ON e.id = m.exception_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var msg string
		var id int64
		if err := rows.Scan(&msg, &id); err != nil {
			t.Fatal(err)
		}
		out[msg] = id
	}
	return out
}

// causeMessages makes n messages of each of a few causes, with the ids,
// numbers, SKUs and amounts that vary in real ones.
func causeMessages(from, n int) map[string][]string {
	out := map[string][]string{}
	for i := from; i < from+n; i++ {
		out["timeout"] = append(out["timeout"], fmt.Sprintf("carrier api timeout for shipment SHP-%d after %d ms", 1000+i, 3000+i*7))
		out["paused"] = append(out["paused"], fmt.Sprintf("carrier api paused for shipment SHP-%d after %d ms", 5000+i, 2000+i*3))
		out["erp"] = append(out["erp"], fmt.Sprintf("erp posting rejected: invoice INV-%d amount $%d.%02d for sku SKU-%d", 70000+i, 10+i, i%100, 400+i))
		out["stock"] = append(out["stock"], fmt.Sprintf("stock feed stale for location store-%d sku %d since %d minutes", i%9, 880000+i, 30+i))
	}
	return out
}

// TestClusterRunKeepsIdentities: a second run over the window with 10%
// new exceptions keeps every unchanged cluster's id and status, and
// numbers, ids, SKUs and amounts never split a cluster while "timeout"
// and "paused" stay apart.
func TestClusterRunKeepsIdentities(t *testing.T) {
	t.Parallel()
	f := newClusterFixture(t, ClusterConfig{})
	ctx := context.Background()
	day := f.now.Add(-3 * 24 * time.Hour)
	first := causeMessages(0, 20)
	for _, cause := range []string{"timeout", "paused"} {
		f.report(t, orchestration.KindCarrierDelay, "carrier/track", day, first[cause]...)
	}
	f.report(t, orchestration.KindERPPostingFailed, "erp/invoice", day, first["erp"]...)
	f.report(t, orchestration.KindStaleInventory, "", day, first["stock"]...)

	sum := f.run(t)
	if sum.Exceptions != 80 || sum.Clusters != 4 || sum.New != 4 {
		t.Fatalf("first run = %+v, want 80 exceptions in 4 new clusters", sum)
	}
	before := f.membership(t)
	idOf := map[string]int64{}
	for cause, msgs := range first {
		idOf[cause] = before[msgs[0]]
		for _, m := range msgs {
			if before[m] != idOf[cause] {
				t.Errorf("%q is in cluster %d, want %d with the other %s messages: a number split them", m, before[m], idOf[cause], cause)
			}
		}
	}
	if idOf["timeout"] == idOf["paused"] {
		t.Fatalf("carrier api timeout and carrier api paused share cluster %d", idOf["timeout"])
	}
	// People track them.
	statuses := map[string]string{"timeout": ClusterInvestigating, "paused": ClusterIgnored, "erp": ClusterNew, "stock": ClusterInvestigating}
	for cause, st := range statuses {
		owner, notes := "ana", "seen on "+cause
		if _, err := f.c.UpdateCluster(ctx, idOf[cause], ClusterUpdate{Status: &st, Owner: &owner, Notes: &notes}, "engineer@test"); err != nil {
			t.Fatal(err)
		}
	}

	// 10% new exceptions, then a second run.
	more := causeMessages(100, 2)
	for _, cause := range []string{"timeout", "paused"} {
		f.report(t, orchestration.KindCarrierDelay, "carrier/track", f.now, more[cause]...)
	}
	f.report(t, orchestration.KindERPPostingFailed, "erp/invoice", f.now, more["erp"]...)
	f.report(t, orchestration.KindStaleInventory, "", f.now, more["stock"]...)
	sum = f.run(t)
	if sum.Exceptions != 88 || sum.Clusters != 4 || sum.New != 0 || sum.Merges != 0 || sum.Splits != 0 {
		t.Fatalf("second run = %+v, want 88 exceptions in the same 4 clusters", sum)
	}
	after := f.membership(t)
	for cause, msgs := range first {
		for _, m := range append(msgs, more[cause]...) {
			if after[m] != idOf[cause] {
				t.Errorf("after the second run %q is in cluster %d, want %d", m, after[m], idOf[cause])
			}
		}
		d, err := f.c.GetCluster(ctx, idOf[cause], "")
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != statuses[cause] || d.Owner != "ana" || d.Notes != "seen on "+cause || d.Count != 22 {
			t.Errorf("cluster %d (%s) = status %q owner %q notes %q count %d; want %q, ana, kept notes, 22",
				d.ID, cause, d.Status, d.Owner, d.Notes, d.Count, statuses[cause])
		}
	}
}

// TestClusterAssignOnIntake: an exception triage handles after a run is
// placed in its cluster at once, and a fixed cluster it joins from a day
// after the fix date is flagged recurring (API model and metric) and told
// to the webhook once, signed.
func TestClusterAssignOnIntake(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string // each request's body, when its signature is right
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get(adapter.HeaderSignature) != adapter.Sign([]byte("s3cret"), r.Header.Get(adapter.HeaderTimestamp), body) {
			got = append(got, "bad signature")
			return
		}
		got = append(got, string(body))
	}))
	defer hook.Close()
	f := newClusterFixture(t, ClusterConfig{WebhookURL: hook.URL, Secret: []byte("s3cret")})
	ctx := context.Background()
	msgs := causeMessages(0, 10)
	f.report(t, orchestration.KindCarrierDelay, "carrier/track", f.now.Add(-5*24*time.Hour), msgs["timeout"]...)
	f.run(t)
	id := f.membership(t)[msgs["timeout"][0]]

	fixed, day := ClusterFixed, f.now.Add(-2*24*time.Hour).Format(time.DateOnly)
	d, err := f.c.UpdateCluster(ctx, id, ClusterUpdate{Status: &fixed, FixedAt: &day}, "engineer@test")
	if err != nil {
		t.Fatal(err)
	}
	if d.Recurring || d.FixedAt == nil || *d.FixedAt != day {
		t.Fatalf("just fixed: recurring %v, fixed_at %v; want not recurring, fixed %s", d.Recurring, d.FixedAt, day)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(f.c.Collector())
	if v := gauge(t, reg, "omnitriage_clusters_recurring"); v != 0 {
		t.Errorf("omnitriage_clusters_recurring = %v before it recurs, want 0", v)
	}

	// One more, today: triage's intake assigns it, no run needed.
	f.report(t, orchestration.KindCarrierDelay, "carrier/track", f.now, "carrier api timeout for shipment SHP-99123 after 4100 ms")
	if m := f.membership(t)["carrier api timeout for shipment SHP-99123 after 4100 ms"]; m != id {
		t.Fatalf("the new exception is in cluster %d, want %d", m, id)
	}
	d, err = f.c.GetCluster(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if !d.Recurring || d.Count != 11 {
		t.Errorf("after a new exception past the fix date: recurring %v, count %d; want recurring, 11", d.Recurring, d.Count)
	}
	list, _, err := f.c.ListClusters(ctx, ClusterFilter{Recurring: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != id || !list[0].Recurring {
		t.Errorf("ListClusters(recurring) = %+v, want cluster %d", list, id)
	}
	if v := gauge(t, reg, "omnitriage_clusters_recurring"); v != 1 {
		t.Errorf("omnitriage_clusters_recurring = %v, want 1", v)
	}
	for range 2 { // the second run has nothing new to say
		if _, err := f.c.NotifyRecurring(ctx, 10); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !strings.Contains(got[0], `"event":"cluster.recurring"`) || !strings.Contains(got[0], fmt.Sprintf(`"cluster_id":%d`, id)) {
		t.Fatalf("webhook got %q, want one signed cluster.recurring event for %d", got, id)
	}
}

// gauge reads one gauge from reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.Metric) > 0 {
			return mf.Metric[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestClusterMergeAndSplit: clusters whose differing word turns out to be
// a variable merge, and a variable that turns out to be a few frequent
// words splits; both are recorded with the ids involved.
func TestClusterMergeAndSplit(t *testing.T) {
	t.Parallel()
	f := newClusterFixture(t, ClusterConfig{})
	ctx := context.Background()
	day := f.now.Add(-2 * 24 * time.Hour)
	// Two stores only: the store's name reads as meaningful, two clusters.
	for _, store := range []string{"alpha", "beta"} {
		for i := range 3 {
			f.report(t, orchestration.KindIntegrationError, "wms/sync", day, fmt.Sprintf("inventory sync failed for store %s batch %d", store, i))
		}
	}
	// Many stations, each once: the station is a variable, one cluster.
	for _, st := range []string{"north", "south", "east", "west", "upper", "lower"} {
		f.report(t, orchestration.KindIntegrationError, "printer/label", day, "label printer jammed at station "+st)
	}
	sum := f.run(t)
	if sum.Clusters != 3 {
		t.Fatalf("first run = %+v, want 3 clusters (alpha, beta, stations)", sum)
	}
	m := f.membership(t)
	alpha, beta, stations := m["inventory sync failed for store alpha batch 0"], m["inventory sync failed for store beta batch 0"], m["label printer jammed at station north"]

	// Many more stores, each once: the store is a variable now, and the
	// two clusters merge. Two stations turn out frequent: they split.
	for _, store := range []string{"gamma", "delta", "epsilon", "zeta", "eta", "theta"} {
		f.report(t, orchestration.KindIntegrationError, "wms/sync", f.now, "inventory sync failed for store "+store+" batch 9")
	}
	for range 10 {
		f.report(t, orchestration.KindIntegrationError, "printer/label", f.now, "label printer jammed at station north", "label printer jammed at station south")
	}
	sum = f.run(t)
	if sum.Merges != 1 || sum.Splits == 0 {
		t.Fatalf("second run = %+v, want 1 merge and splits", sum)
	}
	m = f.membership(t)
	kept := m["inventory sync failed for store alpha batch 0"]
	if kept != alpha && kept != beta || m["inventory sync failed for store beta batch 0"] != kept || m["inventory sync failed for store zeta batch 9"] != kept {
		t.Fatalf("after the merge alpha is in %d, beta in %d, zeta in %d; want all in %d or %d",
			kept, m["inventory sync failed for store beta batch 0"], m["inventory sync failed for store zeta batch 9"], alpha, beta)
	}
	gone := alpha + beta - kept
	d, err := f.c.GetCluster(ctx, kept, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Events) != 1 || d.Events[0].Kind != "merge" || len(d.Events[0].Others) != 1 || d.Events[0].Others[0] != gone {
		t.Errorf("events of %d = %+v, want the merge of %d", kept, d.Events, gone)
	}
	old, err := f.c.GetCluster(ctx, gone, "")
	if err != nil {
		t.Fatal(err)
	}
	if old.Active || old.MergedInto == nil || *old.MergedInto != kept || !strings.Contains(old.Events[0].Text, "merged into") {
		t.Errorf("merged cluster %d = active %v merged_into %v events %+v; want inactive, into %d", gone, old.Active, old.MergedInto, old.Events, kept)
	}
	north, south := m["label printer jammed at station north"], m["label printer jammed at station south"]
	if north == south {
		t.Fatalf("north and south are both in %d after they turned out frequent", north)
	}
	if north != stations && south != stations {
		t.Errorf("neither north (%d) nor south (%d) kept the stations' cluster %d", north, south, stations)
	}
	split := north
	if split == stations {
		split = south
	}
	d, err = f.c.GetCluster(ctx, split, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Events) != 1 || d.Events[0].Kind != "split" || d.Events[0].Others[0] != stations {
		t.Errorf("events of %d = %+v, want a split from %d", split, d.Events, stations)
	}
}

// TestClusterRunOneAtATime: concurrent runs do not interleave; all but one
// are refused, and the clusters are those of one run.
func TestClusterRunOneAtATime(t *testing.T) {
	t.Parallel()
	f := newClusterFixture(t, ClusterConfig{})
	f.report(t, orchestration.KindCarrierDelay, "carrier/track", f.now, causeMessages(0, 10)["timeout"]...)
	// Two clusterers stand for two processes: the advisory lock is shared.
	other := &Clusterer{s: f.svc, cfg: f.c.cfg, emb: f.c.emb}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := f.c
			if i%2 == 1 {
				c = other
			}
			_, errs[i] = c.Run(context.Background(), RunOptions{Trigger: "test"})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if err != nil && !strings.Contains(err.Error(), "in progress") {
			t.Errorf("run: %v", err)
		}
	}
	var n int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM clusters`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if ok == 0 || n != 1 {
		t.Errorf("%d runs succeeded leaving %d clusters; want at least one run and 1 cluster", ok, n)
	}
}
