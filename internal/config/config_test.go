package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load(empty) = %v, want nil", err)
	}
	if c.ListenAddr != ":8080" || c.ShutdownGrace != 15*time.Second || c.DBMaxConns != 8 || c.LogFormat != "text" {
		t.Errorf("Load(empty) = %+v, want documented defaults", c)
	}
	// A job a dead process held is run again within two minutes, not River's hour.
	if c.RescueAfter <= MaxJobTimeout || c.RescueAfter > 2*time.Minute || c.TimeScale != 1 {
		t.Errorf("Load(empty): JOB_RESCUE_AFTER %v, DEMO_TIME_SCALE %g, want (%v, 2m] and 1", c.RescueAfter, c.TimeScale, MaxJobTimeout)
	}
	if c.LLMURL != "" || c.LLMTimeout != 30*time.Second || c.LLMSummaryTop != 10 {
		t.Errorf("Load(empty): LLM_URL %q, LLM_TIMEOUT %v, LLM_SUMMARY_TOP %d; want summaries off, 30s, 10", c.LLMURL, c.LLMTimeout, c.LLMSummaryTop)
	}
	if err := c.RequireDatabase(); err == nil || !strings.Contains(err.Error(), "make run") {
		t.Errorf("RequireDatabase() = %v, want a message pointing at DATABASE_URL and make run", err)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // each must appear in the error
	}{
		{"bad grace", map[string]string{"SHUTDOWN_GRACE": "soon"}, []string{`SHUTDOWN_GRACE="soon"`, "positive duration such as 15s"}},
		{"negative grace", map[string]string{"SHUTDOWN_GRACE": "-3s"}, []string{"SHUTDOWN_GRACE", "positive duration"}},
		{"bad level", map[string]string{"LOG_LEVEL": "loud"}, []string{"LOG_LEVEL", "debug, info, warn or error"}},
		{"bad format", map[string]string{"LOG_FORMAT": "xml"}, []string{"LOG_FORMAT", "text or json"}},
		{"bad addr", map[string]string{"LISTEN_ADDR": "8080"}, []string{"LISTEN_ADDR", "host:port"}},
		{"pool too big", map[string]string{"DB_MAX_CONNS": "0"}, []string{"DB_MAX_CONNS", "whole number from 1 to 1000"}},
		{"bad url", map[string]string{"DATABASE_URL": "mysql://x"}, []string{"DATABASE_URL", "postgres:// URL"}},
		{"embedding without model", map[string]string{"EMBEDDING_URL": "http://127.0.0.1:9/v1"}, []string{"EMBEDDING_MODEL"}},
		{"time scale below 1", map[string]string{"DEMO_TIME_SCALE": "0.5"}, []string{"DEMO_TIME_SCALE", "from 1 (real time)"}},
		{"time scale not a number", map[string]string{"DEMO_TIME_SCALE": "fast"}, []string{"DEMO_TIME_SCALE"}},
		{"rescue inside a job's timeout", map[string]string{"JOB_RESCUE_AFTER": "30s"}, []string{"JOB_RESCUE_AFTER", "longest job timeout"}},
		{"alert webhook not a URL", map[string]string{"ALERT_WEBHOOK_URL": "hooks.example.com/x", "ADAPTER_SECRET": "s"}, []string{"ALERT_WEBHOOK_URL", "http:// or https://"}},
		{"alert webhook without a secret", map[string]string{"ALERT_WEBHOOK_URL": "https://hooks.example.com/x"}, []string{"ALERT_WEBHOOK_SECRET", "ADAPTER_SECRET"}},
		{"alert interval", map[string]string{"ALERT_EVERY": "0s"}, []string{"ALERT_EVERY", "positive duration"}},
		{"llm not a URL", map[string]string{"LLM_URL": "localhost:11434", "LLM_MODEL": "m"}, []string{"LLM_URL", "http:// or https://"}},
		{"llm without a model", map[string]string{"LLM_URL": "http://127.0.0.1:11434/v1"}, []string{"LLM_MODEL", "when LLM_URL is set"}},
		{"llm timeout too long", map[string]string{"LLM_TIMEOUT": "2m"}, []string{"LLM_TIMEOUT", "at most 45s"}},
		{"llm timeout zero", map[string]string{"LLM_TIMEOUT": "0s"}, []string{"LLM_TIMEOUT", "positive duration"}},
		{"llm top negative", map[string]string{"LLM_SUMMARY_TOP": "-1"}, []string{"LLM_SUMMARY_TOP", "from 0 to 100"}},
		{"several at once", map[string]string{"LOG_LEVEL": "x", "WORKERS": "-1"}, []string{"LOG_LEVEL", "WORKERS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.env))
			if err == nil {
				t.Fatalf("Load(%v) = nil, want error", tt.env)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load(%v) = %q, want it to mention %q", tt.env, err, w)
				}
			}
		})
	}
}

func TestVarsDocumented(t *testing.T) {
	for _, v := range Vars {
		if v.Doc == "" {
			t.Errorf("Vars[%s] has no doc", v.Name)
		}
	}
}

// TestREADMEListsEveryVar keeps the README's configuration table true.
func TestREADMEListsEveryVar(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		if !strings.Contains(string(b), "| `"+v.Name+"` |") {
			t.Errorf("README's configuration table lacks %s", v.Name)
		}
	}
}
