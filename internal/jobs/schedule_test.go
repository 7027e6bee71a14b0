package jobs

import (
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		wantErr bool
		period  time.Duration
		from    string
		next    string
	}{
		{in: "15s", period: 15 * time.Second, from: "2026-12-02T07:00:07Z", next: "2026-12-02T07:00:15.25Z"},
		{in: "15s", period: 15 * time.Second, from: "2026-12-02T07:00:15.25Z", next: "2026-12-02T07:00:30.25Z"}, // River's next from a run's time
		{in: "15s", period: 15 * time.Second, from: "2026-12-02T07:00:15.1Z", next: "2026-12-02T07:00:15.25Z"},
		{in: "10m", period: 10 * time.Minute, from: "2026-12-02T07:09:59Z", next: "2026-12-02T07:10:00.25Z"},
		{in: "10m", period: 10 * time.Minute, from: "2026-12-02T07:10:00.25Z", next: "2026-12-02T07:20:00.25Z"},
		{in: "@every 30s", period: 30 * time.Second, from: "2026-12-02T07:00:31Z", next: "2026-12-02T07:01:00.25Z"},
		{in: "*/5 * * * *", from: "2026-12-02T07:03:10Z", next: "2026-12-02T07:05:00.25Z"},
		{in: "*/5 * * * *", from: "2026-12-02T07:05:00.25Z", next: "2026-12-02T07:10:00.25Z"},
		{in: "@hourly", from: "2026-12-02T07:03:10Z", next: "2026-12-02T08:00:00.25Z"},
		{in: "0 3 * * *", from: "2026-12-02T07:03:10Z", next: "2026-12-03T03:00:00.25Z"},
		{in: "0s", wantErr: true},
		{in: "500ms", wantErr: true},
		{in: "-5s", wantErr: true},
		{in: "every minute", wantErr: true},
		{in: "61 * * * *", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := Parse(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Parse(%q) = %v, want an error", tt.in, s)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if s.Period() != tt.period {
				t.Errorf("Period = %v, want %v", s.Period(), tt.period)
			}
			if got := s.Next(at(tt.from)); !got.Equal(at(tt.next)) {
				t.Errorf("Next(%s) = %s, want %s", tt.from, got.UTC().Format(time.RFC3339), tt.next)
			}
		})
	}
}

func TestOr(t *testing.T) {
	def := Every(time.Minute)
	if got := (Schedule{}).Or(def); got.Period() != time.Minute {
		t.Errorf("unset.Or(1m) = %v", got)
	}
	if got := Every(time.Second).Or(def); got.Period() != time.Second {
		t.Errorf("1s.Or(1m) = %v", got)
	}
	if !Every(0).IsZero() {
		t.Error("Every(0) is set")
	}
}
