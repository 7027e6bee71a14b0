package main

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/triage"
)

// TestOpenAPIEnumsAreTheGoLists holds the document's enums to the one Go
// list of each: adding an exception kind or a status there and not here
// (or the reverse) fails.
func TestOpenAPIEnumsAreTheGoLists(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Enum []string `json:"enum"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		schema string
		want   []string
	}{
		{"ExceptionKind", orchestration.ExceptionKinds()},
		{"ExceptionStatus", orchestration.ExceptionStatuses()},
		{"CaseStatus", triage.CaseStatuses()},
	}
	for _, tt := range tests {
		if got := doc.Components.Schemas[tt.schema].Enum; !slices.Equal(got, tt.want) {
			t.Errorf("openapi.json %s enum = %v, want the Go list %v (same order)", tt.schema, got, tt.want)
		}
	}
}
