package jobs

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule is when a periodic job runs: every period, at the multiples of
// the period (so a run's time does not depend on when a leader started),
// or at the times of a cron expression. The zero Schedule is unset; Or
// gives a default for it. A Schedule is a river.PeriodicSchedule.
type Schedule struct {
	text  string
	every time.Duration // > 0 for an interval
	cron  cron.Schedule // else a cron expression
}

// Every runs at each multiple of d: Every(15*time.Second) at :00, :15, :30, :45
// (each a quarter second after, see fireAfter).
func Every(d time.Duration) Schedule {
	if d <= 0 {
		return Schedule{}
	}
	return Schedule{text: d.String(), every: d}
}

// Parse reads a schedule setting: a Go duration ("15s", "10m") runs every
// that long, at its multiples; anything else is a standard cron expression
// ("*/5 * * * *", "@hourly"; robfig/cron's ParseStandard, in UTC).
func Parse(s string) (Schedule, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		if d < time.Second {
			return Schedule{}, fmt.Errorf("schedule %q: want a second or more", s)
		}
		return Every(d), nil
	}
	c, err := cron.ParseStandard(s)
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule %q: want a duration such as 15s or a cron expression such as */5 * * * *: %w", s, err)
	}
	if every, ok := c.(cron.ConstantDelaySchedule); ok { // @every 15s
		return Every(every.Delay), nil // robfig rounds it to whole seconds, at least one
	}
	return Schedule{text: s, cron: c}, nil
}

// MustParse is Parse for schedules written in code; it panics on error.
func MustParse(s string) Schedule {
	sc, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return sc
}

// IsZero says whether s is unset.
func (s Schedule) IsZero() bool { return s.every == 0 && s.cron == nil }

// Or is s, or def when s is unset.
func (s Schedule) Or(def Schedule) Schedule {
	if s.IsZero() {
		return def
	}
	return s
}

// String is the setting s was made from.
func (s Schedule) String() string { return s.text }

// Period is the interval of an Every schedule, or 0 for a cron expression.
func (s Schedule) Period() time.Duration { return s.every }

// fireAfter is how long after each of its times a periodic job is
// inserted: River inserts up to 100 ms early, and a run inserted before
// its period began would be taken for the last period's, and dropped as
// its duplicate.
const fireAfter = 250 * time.Millisecond

// Next is when the first run after t is inserted: fireAfter past the
// first of s's times after t - fireAfter.
func (s Schedule) Next(t time.Time) time.Time {
	t = t.Add(-fireAfter)
	switch {
	case s.every > 0:
		return t.Truncate(s.every).Add(s.every + fireAfter)
	case s.cron != nil:
		return s.cron.Next(t.UTC()).Add(fireAfter)
	}
	return t.Add(time.Hour) // unset: Periodic is never given one
}

// uniquePeriod is the period a run is unique in: the interval, or a cron
// expression's minute.
func (s Schedule) uniquePeriod() time.Duration {
	if s.every > 0 {
		return s.every
	}
	return time.Minute
}
