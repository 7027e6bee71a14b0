package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEvalCluster(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.csv")
	csv := "Content,EventId\n" +
		"carrier api timeout for shipment 1,E1\ncarrier api timeout for shipment 22,E1\n" +
		"carrier api paused for shipment 3,E2\ncarrier api paused for shipment 44,E2\n"
	if err := os.WriteFile(good, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		args      []string
		wantOut   string // in stdout
		wantErr   string // in the error, "" for none
		wantUsage bool
	}{
		{"scores", []string{"--input", good, "--input", good, "--text", "Content", "--label", "EventId"}, "average", "", false},
		{"no input", []string{"--text", "Content", "--label", "EventId"}, "", "--input is required", true},
		{"no text", []string{"--input", good, "--label", "EventId"}, "", "--text is required", true},
		{"unknown column", []string{"--input", good, "--text", "Message", "--label", "EventId"}, "", `no column "Message" for --text`, false},
		{"missing file", []string{"--input", filepath.Join(dir, "none.csv"), "--text", "Content", "--label", "EventId"}, "", "none.csv", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := runEvalCluster(context.Background(), tt.args, &out, &errOut)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("runEvalCluster(%q) = %v", tt.args, err)
				}
				if !strings.Contains(out.String(), tt.wantOut) || !strings.Contains(out.String(), "1.000") {
					t.Errorf("runEvalCluster(%q) printed %q, want %q and a GA of 1.000", tt.args, out.String(), tt.wantOut)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("runEvalCluster(%q) = %v, want an error with %q", tt.args, err, tt.wantErr)
			}
			var ue usageError
			if got := errors.As(err, &ue); got != tt.wantUsage {
				t.Errorf("runEvalCluster(%q) usage error = %v, want %v", tt.args, got, tt.wantUsage)
			}
		})
	}
}
