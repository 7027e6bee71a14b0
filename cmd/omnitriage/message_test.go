package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/omnitriage/omnitriage/internal/database/dbtest"
)

// The CLI's messages say what is wrong without Go function names.
func TestCLIMessagesArePlain(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	env := func() *environment {
		return &environment{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(k string) string {
			if k == "DATABASE_URL" {
				return url
			}
			return ""
		}}
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"apikey", "revoke", "5"}, "no active key with id 5 (see `omnitriage apikey list`)"},
		{[]string{"apikey", "revoke", "x"}, `apikey revoke: "x" is not a key id (a number from ` + "`apikey list`)"},
	}
	for _, tt := range tests {
		err := run(context.Background(), env(), tt.args)
		if err == nil {
			t.Errorf("omnitriage %s succeeded, want an error", strings.Join(tt.args, " "))
			continue
		}
		if got := userMessage(err); got != tt.want {
			t.Errorf("omnitriage %s says %q, want %q", strings.Join(tt.args, " "), got, tt.want)
		}
	}
}
