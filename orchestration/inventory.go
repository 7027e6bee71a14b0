package orchestration

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// Adjustment is one stock change a WMS or POS reports: an absolute count
// (Count set) or a delta (Delta set), never both.
type Adjustment struct {
	SKU      string `json:"sku"`
	Location string `json:"location"`
	// Count is the counted on-hand quantity.
	Count *int `json:"count,omitempty"`
	// Delta is a change to on hand (received +, damaged −).
	Delta *int `json:"delta,omitempty"`
	// SafetyStock, when set, replaces the row's safety stock.
	SafetyStock *int `json:"safety_stock,omitempty"`
	// Version orders counts from one source: a count whose version is not newer
	// than the stored one is refused. Counts without a version use ObservedAt.
	Version *int64 `json:"version,omitempty"`
	// ObservedAt is when the source counted; a count older than the last
	// applied one is refused.
	ObservedAt *time.Time `json:"observed_at,omitempty"`
	Reason     string     `json:"reason,omitempty"`
}

// AdjustmentBatch is one sync from one source.
type AdjustmentBatch struct {
	Source      string       `json:"source"`
	Adjustments []Adjustment `json:"adjustments"`
}

// MaxAdjustments is the most rows one batch may carry.
const MaxAdjustments = 5000

// Validate names each bad field.
func (b AdjustmentBatch) Validate() error {
	v := &derrors.ValidationError{}
	if b.Source == "" {
		v.Add("source", "required: name the system sending the counts (a WMS, a store's POS)")
	}
	if len(b.Adjustments) == 0 {
		v.Add("adjustments", "at least one adjustment is required")
	}
	if len(b.Adjustments) > MaxAdjustments {
		v.Add("adjustments", "at most %d per batch, got %d", MaxAdjustments, len(b.Adjustments))
	}
	for i, a := range b.Adjustments {
		if len(v.Fields) > 50 {
			break
		}
		f := func(name string) string { return fmt.Sprintf("adjustments[%d].%s", i, name) }
		if !skuRE.MatchString(a.SKU) {
			v.Add(f("sku"), "want a SKU code")
		}
		if !codeRE.MatchString(a.Location) {
			v.Add(f("location"), "want a location code")
		}
		switch {
		case a.Count == nil && a.Delta == nil && a.SafetyStock == nil:
			v.Add(f("count"), "give count (absolute), delta, or safety_stock")
		case a.Count != nil && a.Delta != nil:
			v.Add(f("delta"), "give count or delta, not both")
		}
		if a.Count != nil && (*a.Count < 0 || *a.Count > 1e9) {
			v.Add(f("count"), "must be from 0 to 1000000000")
		}
		if a.Delta != nil && (*a.Delta < -1e9 || *a.Delta > 1e9 || *a.Delta == 0) {
			v.Add(f("delta"), "must be a non-zero change within ±1000000000")
		}
		if a.SafetyStock != nil && (*a.SafetyStock < 0 || *a.SafetyStock > 1e9) {
			v.Add(f("safety_stock"), "must be from 0 to 1000000000")
		}
		if a.Delta != nil && a.Version != nil {
			v.Add(f("version"), "versions order absolute counts; a delta has none")
		}
	}
	return v.Err()
}

// AdjustmentResult says what happened to each row of a batch, in order.
type AdjustmentResult struct {
	Applied int           `json:"applied"`
	Refused int           `json:"refused"`
	Rows    []AdjustedRow `json:"rows"`
}

// AdjustedRow is one row's outcome.
type AdjustedRow struct {
	Index    int    `json:"index"`
	SKU      string `json:"sku"`
	Location string `json:"location"`
	Applied  bool   `json:"applied"`
	Reason   string `json:"reason,omitempty"` // why it was refused
	OnHand   int    `json:"on_hand"`
	Reserved int    `json:"reserved"`
	// Short is how many reserved units the new count cannot cover; an exception
	// was raised for them.
	Short int `json:"short,omitempty"`
}

// AdjustInventory applies a batch in one transaction. A row older than what is
// stored, or naming an unknown SKU or location, is refused with a reason and
// the rest applied. Reserved quantity is never changed by a sync: a count below
// what is reserved raises a stockout exception for the shortfall instead.
func (s *Service) AdjustInventory(ctx context.Context, actor string, b AdjustmentBatch) (_ AdjustmentResult, err error) {
	defer derrors.Wrap(&err, "AdjustInventory(%q, %d rows)", b.Source, len(b.Adjustments))
	if err := b.Validate(); err != nil {
		return AdjustmentResult{}, err
	}
	var res AdjustmentResult
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		res = AdjustmentResult{Rows: make([]AdjustedRow, len(b.Adjustments))}
		for i, a := range b.Adjustments {
			row, err := s.adjustOne(ctx, tx, actor, b.Source, a)
			if err != nil {
				return fmt.Errorf("adjustments[%d]: %w", i, err)
			}
			row.Index, row.SKU, row.Location = i, a.SKU, a.Location
			res.Rows[i] = row
			if row.Applied {
				res.Applied++
			} else {
				res.Refused++
			}
		}
		return nil
	})
	return res, err
}

func (s *Service) adjustOne(ctx context.Context, tx pgx.Tx, actor, source string, a Adjustment) (AdjustedRow, error) {
	var skuID, locID *int64
	err := tx.QueryRow(ctx, `SELECT (SELECT id FROM skus WHERE code = $1), (SELECT id FROM locations WHERE code = $2)`,
		a.SKU, a.Location).Scan(&skuID, &locID)
	if err != nil {
		return AdjustedRow{}, err
	}
	if skuID == nil {
		return AdjustedRow{Reason: fmt.Sprintf("unknown SKU %q", a.SKU)}, nil
	}
	if locID == nil {
		return AdjustedRow{Reason: fmt.Sprintf("unknown location %q", a.Location)}, nil
	}
	// Lock the row (creating it at zero if new) so counts and reservations serialise.
	var onHand, reserved, safety int
	var version *int64
	var synced *time.Time
	err = tx.QueryRow(ctx, `
		INSERT INTO stock (sku_id, location_id) VALUES ($1, $2)
		ON CONFLICT (sku_id, location_id) DO UPDATE SET sku_id = EXCLUDED.sku_id
		RETURNING on_hand, reserved, safety_stock, source_version, last_synced_at`, skuID, locID).
		Scan(&onHand, &reserved, &safety, &version, &synced)
	if err != nil {
		return AdjustedRow{}, err
	}
	row := AdjustedRow{OnHand: onHand, Reserved: reserved}
	if a.Count != nil {
		switch {
		case a.Version != nil && version != nil && *a.Version <= *version:
			row.Reason = fmt.Sprintf("stale: version %d is not newer than the stored %d", *a.Version, *version)
			return row, nil
		case a.Version == nil && a.ObservedAt != nil && synced != nil && !a.ObservedAt.After(*synced):
			row.Reason = fmt.Sprintf("stale: counted at %s, not after the last count at %s",
				a.ObservedAt.UTC().Format(time.RFC3339), synced.UTC().Format(time.RFC3339))
			return row, nil
		}
	}
	newOnHand, kind, d := onHand, "count", 0
	switch {
	case a.Count != nil:
		newOnHand, d = *a.Count, *a.Count-onHand
	case a.Delta != nil:
		kind, d = "delta", *a.Delta
		newOnHand = onHand + d
		if newOnHand < 0 {
			row.Reason = fmt.Sprintf("delta %d would take on hand below zero (it is %d)", d, onHand)
			return row, nil
		}
	}
	newSafety := safety
	if a.SafetyStock != nil {
		newSafety = *a.SafetyStock
	}
	observed := s.now()
	if a.ObservedAt != nil {
		observed = *a.ObservedAt
	}
	newVersion := version
	if a.Version != nil {
		newVersion = a.Version
	}
	synced2 := synced
	if a.Count != nil {
		synced2 = &observed
	}
	_, err = tx.Exec(ctx, `
		UPDATE stock SET on_hand = $3, safety_stock = $4, source_version = $5, last_synced_at = $6, updated_at = now()
		WHERE sku_id = $1 AND location_id = $2`, skuID, locID, newOnHand, newSafety, newVersion, synced2)
	if err != nil {
		return AdjustedRow{}, err
	}
	reason := a.Reason
	if reason == "" {
		reason = "sync from " + source
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO stock_ledger (sku_id, location_id, kind, d_on_hand, on_hand_after, reserved_after, actor, reason, source_version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, skuID, locID, kind, d, newOnHand, reserved, actor, reason, a.Version)
	if err != nil {
		return AdjustedRow{}, err
	}
	row.Applied, row.OnHand = true, newOnHand
	if short := reserved - max(0, newOnHand-newSafety); short > 0 && newOnHand-newSafety < onHand-safety {
		row.Short = short
		payload, _ := json.Marshal(map[string]any{"on_hand": newOnHand, "reserved": reserved, "safety_stock": newSafety,
			"short": short, "source": source, "version": a.Version})
		_, err = s.raise(ctx, tx, Exception{
			Kind: KindStockout, Severity: SeverityHigh, Source: source, SKU: a.SKU, Location: a.Location,
			Code: "COUNT_BELOW_RESERVED",
			Message: fmt.Sprintf("%s counted %d of %s at %s but %d are reserved (safety stock %d): %d reserved units have no stock",
				source, newOnHand, a.SKU, a.Location, reserved, newSafety, short),
			Payload: payload, OccurredAt: observed,
		})
		if err != nil {
			return AdjustedRow{}, err
		}
	}
	return row, nil
}
