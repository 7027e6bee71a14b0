package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/internal/database"
	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/rules"
)

func writePolicy(t *testing.T, replace map[string]string) string {
	t.Helper()
	src := string(rules.DefaultYAML())
	for old, repl := range replace {
		if strings.Count(src, old) != 1 {
			t.Fatalf("default policy has %q %d times, want once", old, strings.Count(src, old))
		}
		src = strings.Replace(src, old, repl, 1)
	}
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRulesCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	def, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	env, out, _ := testEnv("")
	if err := runRules(ctx, env, []string{"check", writePolicy(t, nil)}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"policy.yaml: valid, version " + def.Version, "default threshold 0.85", "is the same as the policy in force"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("rules check stdout lacks %q:\n%s", want, out)
		}
	}

	env, out, _ = testEnv("")
	if err := runRules(ctx, env, []string{"check", writePolicy(t, map[string]string{"retry: 0.70": "retry: 0.50"})}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "differs from the policy in force") {
		t.Errorf("rules check of a changed policy:\n%s", out)
	}

	bad := writePolicy(t, map[string]string{"retry: 0.70": "retry: 1.70", "require: order_value <= 2500": "require: order_value <== 2500"})
	env, _, errb := testEnv("")
	err = runRules(ctx, env, []string{"check", bad})
	if err == nil || !strings.Contains(err.Error(), "is not a valid policy: 2 problem(s)") {
		t.Errorf("rules check of an invalid file = %v, want 2 problems", err)
	}
	src, _ := os.ReadFile(bad)
	for _, want := range []string{"decision.actions.retry", "decision.guards[0].require"} {
		line := 0
		for i, l := range strings.Split(string(src), "\n") {
			if strings.Contains(l, map[string]string{"decision.actions.retry": "retry: 1.70", "decision.guards[0].require": "order_value <== 2500"}[want]) {
				line = i + 1
			}
		}
		if !strings.Contains(errb.String(), "policy.yaml:"+strconv.Itoa(line)+": "+want) {
			t.Errorf("rules check stderr lacks policy.yaml:%d: %s:\n%s", line, want, errb)
		}
	}

	for _, args := range [][]string{{"check"}, {"check", "a.yaml", "b.yaml"}, {"lint", "a.yaml"}, {}} {
		env, _, _ := testEnv("")
		var ue usageError
		if err := runRules(ctx, env, args); !errors.As(err, &ue) {
			t.Errorf("rules %q = %v, want a usage error", args, err)
		}
	}
	env, _, _ = testEnv("")
	if err := runRules(ctx, env, []string{"check", filepath.Join(t.TempDir(), "missing.yaml")}); err == nil {
		t.Errorf("rules check of a missing file succeeded")
	}
}

func TestRulesSimulate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewURL(t)
	proposed := writePolicy(t, map[string]string{"retry: 0.70": "retry: 0.50"})

	env, out, errb := testEnv(url)
	if err := runRules(ctx, env, []string{"simulate", proposed}); err != nil {
		t.Fatalf("rules simulate: %v\n%s", err, errb)
	}
	if !strings.Contains(out.String(), "replayed 0 cases") || !strings.Contains(out.String(), "nothing to compare") {
		t.Errorf("rules simulate on an empty database:\n%s", out)
	}

	// Two gateway timeouts a person approved retrying, one at 0.6 confidence
	// (automatic only under the proposed policy) and one from 40 days ago.
	pool, err := database.Open(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, age := range []time.Duration{24 * time.Hour, 40 * 24 * time.Hour} {
		_, err := pool.Exec(ctx, `
			WITH e AS (INSERT INTO exceptions (kind, severity, message) VALUES ('payment_failed', 'medium', 'timeout') RETURNING id)
			INSERT INTO cases (exception_id, kind, severity, status, action, cause, inputs, decision, decided_action, created_at)
			SELECT id, 'payment_failed', 'medium', 'decided', 'retry', 'gateway_timeout', $1, 'approve', 'retry', now() - $2::interval FROM e`,
			map[string]any{"classification": map[string]any{"top_similarity": 0.9}, "policy": map[string]any{
				"action": "retry", "cause": "gateway_timeout", "kind": "payment_failed", "customer_tier": "standard",
				"confidence": 0.6, "order_value": 40}}, age)
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"simulate", proposed, "--since", "30d"}, {"simulate", "--since", "30d", proposed}} {
		env, out, errb := testEnv(url)
		if err := runRules(ctx, env, args); err != nil {
			t.Fatalf("rules %q: %v\n%s", args, err, errb)
		}
		for _, want := range []string{"replayed 1 cases", "1 with a fix for the policy to judge", "by action", "by cause",
			"gateway_timeout", "1 cases become automatic, 0 stop being automatic", "1.000 (1/1)", "person: approve (recommended action)"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("rules %q stdout lacks %q:\n%s", args, want, out)
			}
		}
	}
	env, out, _ = testEnv(url)
	if err := runRules(ctx, env, []string{"simulate", proposed, "--since", "60d"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "replayed 2 cases") {
		t.Errorf("rules simulate --since 60d:\n%s", out)
	}
	for _, since := range []string{"soon", "-3d", "0d"} {
		env, _, _ := testEnv(url)
		var ue usageError
		if err := runRules(ctx, env, []string{"simulate", proposed, "--since", since}); !errors.As(err, &ue) {
			t.Errorf("rules simulate --since %q = %v, want a usage error", since, err)
		}
	}
}

func TestParseSince(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"30d":        now.Add(-30 * 24 * time.Hour),
		"12h":        now.Add(-12 * time.Hour),
		"2025-03-01": time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got, err := parseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}
