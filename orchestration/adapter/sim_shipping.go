package adapter

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
)

// Release accepts the lines, or refuses them at the configured rate with a
// location-system code and message.
func (s *Simulator) Release(ctx context.Context, req ReleaseRequest) (ReleaseResult, error) {
	if err := req.Validate(); err != nil {
		return ReleaseResult{}, invalid(SystemFulfillment, OpRelease, err)
	}
	return run(ctx, s, call{SystemFulfillment, OpRelease, req.IdempotencyKey, req}, func(_ simTx, r *stream) (ReleaseResult, *Effect, error) {
		id := r.id("rel_")
		if r.float() >= s.cfg.Fulfillment.RejectRate {
			lines := make([]uuid.UUID, len(req.Lines))
			for i, l := range req.Lines {
				lines[i] = l.LineID
			}
			return ReleaseResult{ReleaseID: id, Accepted: true},
				&Effect{OrderID: req.OrderID, Ref: req.LocationCode, LineIDs: lines}, nil
		}
		l := pick(r, req.Lines)
		res := ReleaseResult{RejectedLines: []uuid.UUID{l.LineID}}
		switch u := r.float(); {
		case u < 0.4:
			bin := fmt.Sprintf("%c-%02d-%02d", 'A'+r.intn(8), 1+r.intn(40), 1+r.intn(12))
			res.RejectReason, res.Code = RejectItemNotFound, "E_SKU_NOT_IN_BIN"
			res.Message = fmt.Sprintf("SKU %s not found in bin %s", l.SKU, bin)
		case u < 0.65:
			res.RejectReason, res.Code = RejectDamaged, "E_ITEM_DAMAGED"
			res.Message = fmt.Sprintf("Item damaged at pick: SKU %s, %d unit(s) moved to quarantine", l.SKU, 1+r.intn(l.Qty))
		case u < 0.9:
			limit := 140 + 20*r.intn(14)
			res.RejectReason, res.Code, res.RejectedLines = RejectCapacity, "E_WAVE_CAPACITY", nil
			res.Message = fmt.Sprintf("Pick capacity reached at %s: %d of %d picks scheduled today", req.LocationCode, limit, limit)
		default:
			res.RejectReason, res.Code, res.RejectedLines = RejectLocationClosed, "E_SITE_CLOSED", nil
			res.Message = fmt.Sprintf("Location %s closed for stocktake until 06:00 tomorrow", req.LocationCode)
		}
		return res, nil, nil
	})
}

// bookingState is the simulated carrier's record of a shipment.
type bookingState struct {
	Req BookRequest `json:"req"`
	At  time.Time   `json:"at"`
	ETA time.Time   `json:"eta"`
}

// transitDays is the simulated carriers' speed per service: MinDays +
// floor(km / KmPerDay) days, the same shape as the sourcing policy's model.
func transitDays(service string, km float64) int {
	switch service {
	case "express":
		return 1 + int(km/1000)
	case "same_day":
		return int(km / 100)
	}
	return 1 + int(km/500)
}

// haversineKm is the great-circle distance between two places.
func haversineKm(a, b Place) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dLat, dLon := (b.Lat-a.Lat)*rad, (b.Lon-a.Lon)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * r * math.Asin(math.Sqrt(h))
}

// Book books the shipment and estimates delivery from the distance and
// service: same-day deliveries arrive 8 hours after booking, others at 18:00
// UTC after the transit days; both divided by the simulator's speed.
func (s *Simulator) Book(ctx context.Context, req BookRequest) (Booking, error) {
	if err := req.Validate(); err != nil {
		return Booking{}, invalid(SystemCarrier, OpBook, err)
	}
	return run(ctx, s, call{SystemCarrier, OpBook, req.IdempotencyKey, req}, func(tx simTx, r *stream) (Booking, *Effect, error) {
		now := s.now()
		days := transitDays(req.Service, haversineKm(req.From, req.To))
		eta := now.Add(8 * time.Hour)
		if days > 0 {
			d := now.UTC().AddDate(0, 0, days)
			eta = time.Date(d.Year(), d.Month(), d.Day(), 18, 0, 0, 0, time.UTC)
		}
		eta = now.Add(s.scaled(eta.Sub(now))) // a faster world arrives sooner
		tn := trackingPrefix(req.Carrier) + fmt.Sprintf("%012d", r.next()%1e12)
		if err := tx.put(recBooking, tn, &bookingState{Req: req, At: now, ETA: eta}); err != nil {
			return Booking{}, nil, err
		}
		b := Booking{TrackingNumber: tn, Carrier: req.Carrier, Service: req.Service, EstimatedDelivery: eta,
			LabelURL: "https://labels.carrier-sim.test/" + tn + ".pdf"}
		return b, &Effect{OrderID: req.OrderID, Ref: tn}, nil
	})
}

// trackingPrefix is the first three letters or digits of the carrier, upper case.
func trackingPrefix(carrier string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(carrier) {
		if b.Len() < 3 && (unicode.IsLetter(c) || unicode.IsDigit(c)) && c < unicode.MaxASCII {
			b.WriteRune(c)
		}
	}
	for b.Len() < 3 {
		b.WriteByte('X')
	}
	return b.String()
}

// Track returns the shipment's events up to now. The whole journey is fixed at
// booking by the seed and the tracking number; the clock reveals it.
func (s *Simulator) Track(ctx context.Context, trackingNumber string) ([]TrackingEvent, error) {
	if trackingNumber == "" {
		return nil, &Error{System: SystemCarrier, Op: OpTrack, Code: CodeInvalidRequest, Message: "tracking number required"}
	}
	return run(ctx, s, call{SystemCarrier, OpTrack, trackingNumber, nil}, func(tx simTx, _ *stream) ([]TrackingEvent, *Effect, error) {
		b := &bookingState{}
		found, err := tx.get(recBooking, trackingNumber, b)
		if err != nil {
			return nil, nil, err
		}
		if !found {
			return nil, nil, simError(SystemCarrier, OpTrack, 404, CodeNotFound, "Tracking number %s not found.", trackingNumber)
		}
		now := s.now()
		out := []TrackingEvent{}
		for _, e := range s.journey(trackingNumber, b) {
			if !e.At.After(now) {
				out = append(out, e)
			}
		}
		return out, nil, nil
	})
}

// milestones are the scans of an undisturbed journey, at fractions of the
// nominal transit time. {hub} and {origin} are replaced.
var milestones = []struct {
	at      float64
	kind    string
	code    string
	message string
	dest    bool // the scan happens in the destination region
}{
	{0.1, TrackInTransit, "picked_up", "Picked up at {origin}", false},
	{0.3, TrackInTransit, "departed_facility", "Departed facility {hub}", false},
	{0.8, TrackInTransit, "arrived_facility", "Arrived at destination facility", true},
	{0.9, TrackInTransit, "out_for_delivery", "Out for delivery", true},
	{1.0, TrackDelivered, "delivered", "Delivered", true},
}

// hubs are the sorting hubs named in carrier messages.
var hubs = []string{"MEM", "IND", "SDF", "ONT", "DFW", "ORD", "ATL", "EWR", "CVG", "RNO"}

// delays and exceptions are the carriers' random incidents.
var (
	delays = []struct{ code, message string }{
		{"weather_delay", "Weather delay at hub {hub}"},
		{"missed_connection", "Missed connection at hub {hub}; rescheduled on the next departure"},
		{"volume_surge", "High package volume at hub {hub}; delivery rescheduled"},
		{"mechanical", "Mechanical issue with the linehaul trailer out of {hub}"},
	}
	exceptions = []struct{ code, message string }{
		{"damaged", "Package damaged at hub {hub}; carrier opened a claim"},
		{"address_issue", "Delivery attempted: incorrect or incomplete address"},
		{"lost", "No scan for 72 hours after hub {hub}; carrier opened a trace"},
		{"refused", "Delivery refused by recipient"},
	}
)

// backlog is how long a region needs after a disruption to clear its backlog.
const backlog = 12 * time.Hour

// incident is a delay or exception on the way: at a fraction of the nominal
// journey (random incidents) or at a time (disruptions).
type incident struct {
	at        float64
	exception bool
	code, msg string
	hold      time.Duration
}

// journey is the full, deterministic event list of a shipment: the milestones,
// shifted by a random delay or cut short by a random exception, and held by
// every disruption of its origin or destination region that starts before it
// is delivered and ends after it was booked.
func (s *Simulator) journey(tn string, b *bookingState) []TrackingEvent {
	r := s.stream(SystemCarrier, "journey", tn)
	text := strings.NewReplacer("{hub}", pick(r, hubs), "{origin}", b.Req.From.Code)
	total := b.ETA.Sub(b.At)
	nominal := func(f float64) time.Time { return b.At.Add(time.Duration(f * float64(total))) }
	var random []incident
	if r.float() < s.cfg.Carrier.DelayRate {
		d := pick(r, delays)
		random = append(random, incident{0.5, false, d.code, text.Replace(d.message), s.scaled(time.Duration(1+r.intn(3)) * 24 * time.Hour)})
	}
	if r.float() < s.cfg.Carrier.ExceptionRate {
		e := pick(r, exceptions)
		random = append(random, incident{0.6, true, e.code, text.Replace(e.message), 0})
	}
	from, to := b.Req.From.Region, b.Req.To.Region
	done := make([]bool, len(s.cfg.Carrier.Disruptions))
	var out []TrackingEvent
	var shift time.Duration // how far the journey runs behind its nominal times
	last := b.At
	for _, m := range milestones {
		for {
			// The earliest incident before this milestone happens first.
			next := nominal(m.at).Add(shift)
			var in incident
			var at time.Time
			region, found := from, -1
			if len(random) > 0 && random[0].at < m.at {
				in, at, found = random[0], nominal(random[0].at).Add(shift), len(done)
			}
			for j, d := range s.cfg.Carrier.Disruptions {
				if done[j] || (d.Region != from && d.Region != to) || d.From.After(next) || !d.To.After(last) {
					continue
				}
				hit := d.From
				if !hit.After(last) {
					hit = last.Add(time.Minute)
				}
				if found < 0 || hit.Before(at) {
					at, found, region = hit, j, d.Region
					in = incident{exception: d.Exception, code: d.Code, msg: d.Message, hold: d.To.Sub(hit) + backlog}
					if in.code == "" {
						in.code = "regional_disruption"
					}
					if in.msg == "" {
						in.msg = fmt.Sprintf("Service disruption in %s: shipments held until %s", d.Region,
							d.To.UTC().Format("Jan 2 15:04 MST"))
					}
				}
			}
			if found < 0 {
				break
			}
			if found == len(done) {
				random = random[1:]
			} else {
				done[found] = true
			}
			e := TrackingEvent{Kind: TrackDelayed, At: at, Code: in.code, Message: in.msg, Region: region}
			if in.exception {
				e.Kind = TrackException
				return append(out, e)
			}
			out = append(out, e)
			shift += in.hold
			last = at
		}
		region := from
		if m.dest {
			region = to
		}
		at := nominal(m.at).Add(shift)
		out = append(out, TrackingEvent{Kind: m.kind, At: at, Code: m.code, Message: text.Replace(m.message), Region: region})
		last = at
	}
	return out
}
