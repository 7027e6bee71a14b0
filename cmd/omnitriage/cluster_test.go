package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/omnitriage/omnitriage/internal/database"
	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/models"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
	"github.com/omnitriage/omnitriage/triage"
)

// TestClusterCommand runs `omnitriage cluster` over exceptions reported
// through triage's intake: it prints the summary, and a second run keeps
// the clusters (none new).
func TestClusterCommand(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	ctx := context.Background()
	pool, err := database.Open(ctx, url, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	pol, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	policy := func() *rules.Policy { return pol }
	core, err := orchestration.NewService(pool, orchestration.Config{Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	tri, err := triage.NewService(pool, triage.Config{Core: core, Embedder: models.NewLocalEmbedder(384), Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	if err := tri.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		for _, m := range []string{"carrier api timeout for shipment SHP-%d", "carrier api paused for shipment SHP-%d"} {
			if _, err := tri.Report(ctx, "test", orchestration.Exception{Kind: "carrier_delay", Severity: "low", Endpoint: "carrier/track",
				Message: fmt.Sprintf(m, 1000+i)}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	run1 := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		env := &environment{stdout: &out, stderr: &errb, getenv: func(k string) string {
			if k == "DATABASE_URL" {
				return url
			}
			return ""
		}}
		err := run(ctx, env, append([]string{"cluster"}, args...))
		return out.String() + errb.String(), err
	}
	out, err := run1()
	if err != nil {
		t.Fatalf("cluster: %v\n%s", err, out)
	}
	for _, want := range []string{"exceptions  12", "clusters    2", "new         2", "merged      0", "split       0", "duration", "clustering"} {
		if !strings.Contains(out, want) {
			t.Errorf("cluster printed\n%s\nwant %q", out, want)
		}
	}
	out, err = run1("--quiet", "--window", "2d")
	if err != nil || !strings.Contains(out, "clusters    2") || !strings.Contains(out, "new         0") || strings.Contains(out, "clustering") {
		t.Errorf("second cluster --quiet = %v, printed\n%s\nwant the same 2 clusters, none new, no progress bar", err, out)
	}
	if out, err := run1("--window", "soon"); err == nil || !strings.Contains(err.Error()+out, "--window") {
		t.Errorf("cluster --window soon = %v, %s; want a usage error naming --window", err, out)
	}
}
