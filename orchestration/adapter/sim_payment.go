package adapter

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
)

// authValidity is how long an authorization can be captured, as with the
// card networks' usual seven days.
const authValidity = 7 * 24 * time.Hour

// authState is the simulated gateway's record of an authorization.
type authState struct {
	OrderID  uuid.UUID `json:"order_id"`
	Approved bool      `json:"approved"`
	Amount   int64     `json:"amount"` // cents
	Currency string    `json:"currency"`
	At       time.Time `json:"at"`
	Captured int64     `json:"captured"`
	Refunded int64     `json:"refunded"`
	Voided   bool      `json:"voided"`
}

// declines are the gateway's decline codes and messages.
var declines = []struct{ code, message string }{
	{"insufficient_funds", "card_declined: Your card has insufficient funds."},
	{"do_not_honor", "do_not_honor: The card issuer declined the transaction without giving a reason."},
	{"expired_card", "expired_card: Your card has expired."},
	{"incorrect_cvc", "incorrect_cvc: Your card's security code is incorrect."},
	{"lost_card", "card_declined: The card has been reported lost."},
	{"generic_decline", "card_declined: Your card was declined."},
}

// Authorize approves the authorization, or declines it at the configured rate
// with a gateway decline code.
func (s *Simulator) Authorize(ctx context.Context, req AuthorizeRequest) (Authorization, error) {
	if err := req.Validate(); err != nil {
		return Authorization{}, invalid(SystemPayment, OpAuthorize, err)
	}
	return run(ctx, s, call{SystemPayment, OpAuthorize, req.IdempotencyKey, req}, func(tx simTx, r *stream) (Authorization, *Effect, error) {
		now := s.now()
		a := Authorization{ID: r.id("auth_"), Amount: round2(req.Amount), Currency: req.Currency}
		st := authState{OrderID: req.OrderID, Amount: cents(req.Amount), Currency: req.Currency, At: now}
		if r.float() < s.cfg.Payment.DeclineRate {
			d := pick(r, declines)
			a.Status, a.Code, a.Message = AuthDeclined, d.code, d.message
			return a, nil, tx.put(recAuth, a.ID, &st)
		}
		st.Approved = true
		if err := tx.put(recAuth, a.ID, &st); err != nil {
			return Authorization{}, nil, err
		}
		a.Status, a.ExpiresAt = AuthApproved, now.Add(authValidity)
		return a, &Effect{OrderID: req.OrderID, Ref: a.ID, Amount: a.Amount}, nil
	})
}

// Capture captures up to the authorized amount, once. An authorization older
// than seven days fails to capture (Status failed, authorization_expired).
func (s *Simulator) Capture(ctx context.Context, req TransactionRequest) (Transaction, error) {
	return s.transact(ctx, OpCapture, req, func(a *authState, amt int64, tx *Transaction) error {
		switch {
		case a.Voided:
			return simError(SystemPayment, OpCapture, 409, "authorization_voided", "This authorization was voided and cannot be captured.")
		case a.Captured > 0:
			return simError(SystemPayment, OpCapture, 409, "already_captured", "This authorization has already been captured.")
		case amt > a.Amount:
			return simError(SystemPayment, OpCapture, 422, "amount_too_large",
				"Capture amount %s exceeds the authorized amount %s.", money(amt, a.Currency), money(a.Amount, a.Currency))
		case s.now().After(a.At.Add(authValidity)):
			tx.Status, tx.Code = TxFailed, "authorization_expired"
			tx.Message = "charge_expired_for_capture: The authorization expired before it was captured; authorize the payment again."
			return nil
		}
		a.Captured = amt
		return nil
	})
}

// Void releases an uncaptured authorization.
func (s *Simulator) Void(ctx context.Context, req TransactionRequest) (Transaction, error) {
	return s.transact(ctx, OpVoid, req, func(a *authState, amt int64, _ *Transaction) error {
		switch {
		case a.Voided:
			return simError(SystemPayment, OpVoid, 409, "already_voided", "This authorization has already been voided.")
		case a.Captured > 0:
			return simError(SystemPayment, OpVoid, 409, "already_captured", "A captured payment cannot be voided; refund it instead.")
		case amt > a.Amount:
			return simError(SystemPayment, OpVoid, 422, "amount_too_large",
				"Void amount %s exceeds the authorized amount %s.", money(amt, a.Currency), money(a.Amount, a.Currency))
		}
		a.Voided = true
		return nil
	})
}

// Refund returns captured money; partial refunds add up to at most the
// captured amount.
func (s *Simulator) Refund(ctx context.Context, req TransactionRequest) (Transaction, error) {
	return s.transact(ctx, OpRefund, req, func(a *authState, amt int64, _ *Transaction) error {
		switch {
		case a.Captured == 0:
			return simError(SystemPayment, OpRefund, 409, "not_captured", "This payment has not been captured; void the authorization instead.")
		case a.Refunded+amt > a.Captured:
			return simError(SystemPayment, OpRefund, 422, "amount_too_large",
				"Refund amount %s exceeds the %s left to refund.", money(amt, a.Currency), money(a.Captured-a.Refunded, a.Currency))
		}
		a.Refunded += amt
		return nil
	})
}

// transact runs a capture, void or refund: the shared checks, then apply, which
// changes the authorization or returns an error, and may mark tx failed.
func (s *Simulator) transact(ctx context.Context, op string, req TransactionRequest,
	apply func(a *authState, amt int64, tx *Transaction) error) (Transaction, error) {
	if err := req.Validate(); err != nil {
		return Transaction{}, invalid(SystemPayment, op, err)
	}
	kind := map[string]string{OpCapture: TxCapture, OpVoid: TxVoid, OpRefund: TxRefund}[op]
	return run(ctx, s, call{SystemPayment, op, req.IdempotencyKey, req}, func(tx simTx, r *stream) (Transaction, *Effect, error) {
		a := &authState{}
		found, err := tx.get(recAuth, req.AuthorizationID, a)
		if err != nil {
			return Transaction{}, nil, err
		}
		switch {
		case !found:
			return Transaction{}, nil, simError(SystemPayment, op, 404, "resource_missing", "No such authorization: '%s'", req.AuthorizationID)
		case a.OrderID != req.OrderID:
			return Transaction{}, nil, simError(SystemPayment, op, 422, "order_mismatch",
				"Authorization %s belongs to another order.", req.AuthorizationID)
		case !a.Approved:
			return Transaction{}, nil, simError(SystemPayment, op, 409, "authorization_declined",
				"Authorization %s was declined; nothing to %s.", req.AuthorizationID, op)
		case a.Currency != req.Currency:
			return Transaction{}, nil, simError(SystemPayment, op, 422, "currency_mismatch",
				"Currency %s does not match the authorization's currency %s.", req.Currency, a.Currency)
		}
		t := Transaction{ID: r.id(kind[:3] + "_"), AuthorizationID: req.AuthorizationID, Kind: kind, Status: TxSucceeded,
			Amount: round2(req.Amount), Currency: req.Currency}
		if err := apply(a, cents(req.Amount), &t); err != nil {
			return Transaction{}, nil, err
		}
		if t.Status != TxSucceeded {
			return t, nil, nil
		}
		if err := tx.put(recAuth, req.AuthorizationID, a); err != nil {
			return Transaction{}, nil, err
		}
		return t, &Effect{OrderID: req.OrderID, Ref: req.AuthorizationID, Amount: t.Amount}, nil
	})
}

// money formats an amount in cents.
func money(c int64, currency string) string { return fmt.Sprintf("%d.%02d %s", c/100, c%100, currency) }

// fraudSignals are the reasons the simulated screen gives for an elevated score.
var fraudSignals = []string{"billing_shipping_mismatch", "ip_country_mismatch", "velocity_card_attempts",
	"new_account", "email_age_under_7d", "high_risk_postal_code", "proxy_detected", "device_seen_with_chargebacks"}

// disposableDomains are email domains the screen distrusts.
var disposableDomains = []string{"mailinator.com", "guerrillamail.com", "10minutemail.com", "yopmail.com", "tempmail.com"}

// Score draws a score in the configured band and names the signals behind it.
func (s *Simulator) Score(ctx context.Context, req FraudRequest) (FraudResult, error) {
	if err := req.Validate(); err != nil {
		return FraudResult{}, invalid(SystemFraud, OpScore, err)
	}
	return run(ctx, s, call{SystemFraud, OpScore, req.IdempotencyKey, req}, func(_ simTx, r *stream) (FraudResult, *Effect, error) {
		res := FraudResult{ID: r.id("frs_"), Reasons: []string{}}
		var score float64
		var n int
		switch u := r.float(); {
		case u < s.cfg.Fraud.HighRiskRate:
			score, n = 0.92+0.08*r.float(), 2+r.intn(2)
		case u < s.cfg.Fraud.HighRiskRate+s.cfg.Fraud.ReviewRate:
			score, n = 0.35+0.57*r.float(), 1+r.intn(2)
		default:
			score = 0.3 * r.float()
		}
		order := make([]int, len(fraudSignals))
		for i := range order {
			j := r.intn(i + 1)
			order[i], order[j] = order[j], i
		}
		for _, i := range order[:n] {
			res.Reasons = append(res.Reasons, fraudSignals[i])
		}
		if at := strings.LastIndexByte(req.CustomerEmail, '@'); at >= 0 {
			for _, d := range disposableDomains {
				if strings.EqualFold(req.CustomerEmail[at+1:], d) {
					score += 0.25
					res.Reasons = append(res.Reasons, "disposable_email_domain")
				}
			}
		}
		if req.Amount >= 2500 {
			score += 0.1
			res.Reasons = append(res.Reasons, "high_order_value")
		}
		res.Score = math.Min(1, math.Round(score*1000)/1000)
		return res, nil, nil
	})
}

// ValidateAddress checks the address is complete and well-formed, then calls
// the configured share of the rest undeliverable, with validator-style codes.
func (s *Simulator) ValidateAddress(ctx context.Context, req AddressRequest) (AddressResult, error) {
	if err := req.Validate(); err != nil {
		return AddressResult{}, invalid(SystemTax, OpValidateAddress, err)
	}
	return run(ctx, s, call{SystemTax, OpValidateAddress, req.IdempotencyKey, req}, func(simTx, *stream) (AddressResult, *Effect, error) {
		n := normalizeAddress(req.Address)
		res := AddressResult{Normalized: n}
		// Whether a well-formed address is deliverable is a property of the
		// address, not of the order: the same street always gets the same
		// answer, so a documented example address stays valid.
		a := s.stream(SystemTax, "address", strings.ToLower(n.Line1), strings.ToLower(n.City), n.PostalCode, n.Country)
		bad := func(code, format string, args ...any) (AddressResult, *Effect, error) {
			res.Code, res.Message = code, fmt.Sprintf(format, args...)
			return res, nil, nil
		}
		switch {
		case n.Line1 == "":
			return bad(AddrMissingField, "Street address (line1) is required.")
		case n.City == "":
			return bad(AddrMissingField, "City is required.")
		case n.PostalCode == "":
			return bad(AddrMissingField, "Postal code is required.")
		case len(n.Country) != 2:
			return bad(AddrMissingField, "Country must be a two-letter ISO 3166 code.")
		case n.Country == "US" && !isZIP(n.PostalCode):
			return bad(AddrInvalidPostalCode, "Postal code %s is not a valid US ZIP code.", n.PostalCode)
		case a.float() < s.cfg.Tax.InvalidAddressRate:
			switch a.intn(4) {
			case 0:
				return bad(AddrStreetNotFound, "Street not found: %s, %s.", n.Line1, n.City)
			case 1:
				return bad(AddrPostalCodeMismatch, "Postal code %s does not match city %s, %s.", n.PostalCode, n.City, n.Region)
			case 2:
				return bad(AddrUndeliverable, "Address is not deliverable: no mail receptacle at %s.", n.Line1)
			default:
				return bad(AddrMissingUnit, "Secondary unit (apartment, suite) is missing for the multi-unit building at %s.", n.Line1)
			}
		}
		res.Valid = true
		return res, nil, nil
	})
}

// isZIP reports whether s is a US ZIP or ZIP+4 code.
func isZIP(s string) bool {
	if len(s) != 5 && (len(s) != 10 || s[5] != '-') {
		return false
	}
	for i, c := range s {
		if i != 5 && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// QuoteTax applies the destination's rate to every taxable line and to
// shipping; lines with tax code "exempt" pay none.
func (s *Simulator) QuoteTax(ctx context.Context, req TaxRequest) (TaxQuote, error) {
	if err := req.Validate(); err != nil {
		return TaxQuote{}, invalid(SystemTax, OpQuoteTax, err)
	}
	return run(ctx, s, call{SystemTax, OpQuoteTax, req.IdempotencyKey, req}, func(simTx, *stream) (TaxQuote, *Effect, error) {
		rate := s.taxRate(req.ShipTo.Country, req.ShipTo.Region)
		q := TaxQuote{Rate: rate, Lines: make([]TaxLineQuote, 0, len(req.Lines))}
		var total int64
		for _, l := range req.Lines {
			lr := rate
			if strings.EqualFold(l.TaxCode, "exempt") {
				lr = 0
			}
			t := round2(l.Amount * lr)
			total += cents(t)
			q.Lines = append(q.Lines, TaxLineQuote{LineID: l.LineID, Amount: t, Rate: lr})
		}
		total += cents(req.Shipping * rate)
		q.Amount = float64(total) / 100
		return q, nil, nil
	})
}

// taxRate is the simulated combined rate of a destination: a VAT-like rate for
// a few countries, and for the US a state rate fixed by the seed, zero in the
// states without sales tax.
func (s *Simulator) taxRate(country, region string) float64 {
	switch strings.ToUpper(country) {
	case "US":
		switch region = strings.ToUpper(region); region {
		case "AK", "DE", "MT", "NH", "OR":
			return 0
		}
		return math.Round((0.04+0.055*s.stream("tax_rate", "US", region).float())*10000) / 10000
	case "CA":
		return 0.13
	case "GB", "FR":
		return 0.20
	case "DE":
		return 0.19
	case "NL", "ES":
		return 0.21
	case "IT":
		return 0.22
	case "IE":
		return 0.23
	case "AU", "JP":
		return 0.10
	}
	return 0
}
