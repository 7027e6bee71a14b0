package traffic

import (
	"math"
	"testing"
	"time"
)

func TestShapeMeansOne(t *testing.T) {
	// Over a week without the promotion the rate's factor averages one.
	var sum float64
	var n int
	for at := simEpoch; at.Before(simEpoch.Add(7 * 24 * time.Hour)); at = at.Add(time.Minute) {
		if promoWindow.active(hourOf(at)) {
			continue
		}
		sum += shape(at)
		n++
	}
	// The promotion's hours are skipped, so the mean is near one, not exact.
	if mean := sum / float64(n); math.Abs(mean-1) > 0.1 {
		t.Errorf("mean shape over a week = %.3f, want about 1", mean)
	}
	if night, evening := shape(simEpoch.Add(19*time.Hour)), shape(simEpoch.Add(11*time.Hour+30*time.Minute)); night >= evening {
		t.Errorf("shape at 03:00 = %.2f, at 19:30 %.2f: want the night lower", night, evening)
	}
}

func TestDigestNormalises(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	digest := func(token, orderID string, start time.Time) string {
		c := newClient("http://x", "k", nil, nil, token, start)
		c.name(orderID, "order#1")
		c.record("POST", "/v1/orders/"+orderID+"/cancel", []byte(`{"external_id":"SIM`+token+`-1","at":"`+start.Add(1500*time.Millisecond).Format(time.RFC3339Nano)+`"}`))
		return c.Digest()
	}
	a := digest("abc", "11111111-1111-4111-8111-111111111111", start)
	tests := []struct {
		name string
		got  string
		same bool
	}{
		{"other run token, ids and start", digest("xyz", "22222222-2222-4222-8222-222222222222", start.Add(time.Hour)), true},
		{"same run", digest("abc", "11111111-1111-4111-8111-111111111111", start), true},
	}
	for _, tt := range tests {
		if (tt.got == a) != tt.same {
			t.Errorf("%s: digest equal = %v, want %v", tt.name, tt.got == a, tt.same)
		}
	}
	c := newClient("http://x", "k", nil, nil, "abc", start)
	c.record("POST", "/v1/orders", []byte(`{"qty":2}`))
	if c.Digest() == a {
		t.Errorf("another request has the same digest")
	}
}
