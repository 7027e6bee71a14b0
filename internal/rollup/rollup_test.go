package rollup

import (
	"testing"
	"time"
)

func TestPeriod(t *testing.T) {
	d := func(m time.Month, day int) time.Time { return time.Date(2026, m, day, 0, 0, 0, 0, time.UTC) }
	now := time.Date(2026, 3, 10, 15, 4, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		p        Period
		prev     Period
		days     int
		validErr bool
	}{
		{"today", LastDays(now, 1), Period{d(3, 9), d(3, 10)}, 1, false},
		{"a week", LastDays(now, 7), Period{d(2, 25), d(3, 4)}, 7, false},
		{"30 days over February", LastDays(now, 30), Period{d(1, 10), d(2, 9)}, 30, false},
		{"not at midnight", Period{d(3, 1).Add(time.Hour), d(3, 2)}, Period{}, 0, true},
		{"backwards", Period{d(3, 2), d(3, 1)}, Period{}, 0, true},
		{"too long", Period{d(1, 1), d(1, 1).AddDate(2, 0, 0)}, Period{}, 0, true},
	} {
		err := tc.p.Validate()
		if (err != nil) != tc.validErr {
			t.Errorf("%s: Validate() = %v, want error %v", tc.name, err, tc.validErr)
		}
		if tc.validErr {
			continue
		}
		if got := tc.p.Days(); got != tc.days {
			t.Errorf("%s: Days() = %d, want %d", tc.name, got, tc.days)
		}
		if got := tc.p.Previous(); !got.From.Equal(tc.prev.From) || !got.To.Equal(tc.prev.To) {
			t.Errorf("%s: Previous() = %v, want %v", tc.name, got, tc.prev)
		}
	}
}

func TestFilterValidate(t *testing.T) {
	for _, tc := range []struct {
		f  Filter
		ok bool
	}{
		{Filter{}, true},
		{Filter{Channel: "web", Region: "north east", Node: "nj-wh"}, true},
		{Filter{Node: "<script>"}, false},
		{Filter{Channel: "-x"}, false},
	} {
		if err := tc.f.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok %v", tc.f, err, tc.ok)
		}
	}
}

func TestBuild(t *testing.T) {
	sums := Sums{
		Current:  map[Key]Agg{{"m", All}: {N: 4, Hits: 3, Timed: 2, Seconds: 30}, {"m", "a"}: {N: 3}, {"m", "b"}: {N: 1}},
		Previous: map[Key]Agg{{"m", All}: {N: 2, Hits: 2}, {"m", "c"}: {N: 2}},
		Daily:    map[string][]Agg{"m": {{}, {N: 4, Hits: 1}}},
		Days:     []string{"2026-03-01", "2026-03-02"},
	}
	rate := Build(NewDef("k", "m", "K", UnitShare, "", "rate"), All, sums, nil)
	if *rate.Value != 0.75 || *rate.Previous != 1 || rate.Daily[0] != nil || *rate.Daily[1] != 0.25 {
		t.Errorf("rate = %v was %v daily %v, want 0.75 was 1 daily [nil 0.25]", *rate.Value, *rate.Previous, rate.Daily)
	}
	mean := Build(NewDef("k", "m", "K", UnitDuration, "", "mean"), All, sums, nil)
	if *mean.Value != 15 || mean.Previous != nil {
		t.Errorf("mean = %v was %v, want 15 was nil", *mean.Value, mean.Previous)
	}
	if got := Dims(sums, "m"); len(got) != 3 || got[0] != "a" || got[1] != "b" || got[2] != "c" {
		t.Errorf("Dims = %v, want [a b c]", got)
	}
}
