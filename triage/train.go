package triage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/models"
	"github.com/omnitriage/omnitriage/orchestration"
)

// Risk model names, as risk_models stores them.
const (
	RiskStockout = "stockout"
	RiskDelivery = "delivery"
)

// RiskTrainOptions configures TrainRiskModels.
type RiskTrainOptions struct {
	// Models lists the models to train; nil means both.
	Models []string
	// StockoutHorizon is how long after a case a stockout of its SKU
	// counts: a stockout or release_rejected exception for the SKU (at the
	// case's location, or network-wide) within it makes the case a
	// positive. Cases younger than the horizon are not labelled yet. 0
	// means 7 days.
	StockoutHorizon time.Duration
	// MinRows is the fewest labelled cases a model is trained from; 0
	// means 200.
	MinRows int
	// MinPerClass is the fewest cases of each outcome; 0 means 20.
	MinPerClass int
	// DryRun fits and measures the models without storing them.
	DryRun bool
}

func (o RiskTrainOptions) withDefaults() RiskTrainOptions {
	if o.Models == nil {
		o.Models = []string{RiskStockout, RiskDelivery}
	}
	if o.StockoutHorizon <= 0 {
		o.StockoutHorizon = 7 * 24 * time.Hour
	}
	if o.MinRows <= 0 {
		o.MinRows = 200
	}
	if o.MinPerClass <= 0 {
		o.MinPerClass = 20
	}
	return o
}

// Slice is one time slice of the labelled cases.
type Slice struct {
	Rows      int       `json:"rows"`
	Positives int       `json:"positives"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
}

// RiskScores are a score's figures on the test slice.
type RiskScores struct {
	AUC   float64 `json:"auc"`
	Brier float64 `json:"brier"`
	// ECE is the expected calibration error of the probabilities over 15
	// bins.
	ECE float64 `json:"ece"`
}

// RiskTrainReport says how one risk model was trained and how it scores
// on the newest cases, which it never saw, beside the hand-weighted
// heuristic the service uses without a model.
type RiskTrainReport struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Label says what a positive case is.
	Label string `json:"label"`
	// Train fits the weights, Calibration the Platt scaling, Test measures:
	// the oldest 60%, the next 20% and the newest 20% of the cases.
	Train       Slice      `json:"train"`
	Calibration Slice      `json:"calibration"`
	Test        Slice      `json:"test"`
	Model       RiskScores `json:"model"`
	Heuristic   RiskScores `json:"heuristic"`
	Stored      bool       `json:"stored"`
}

// riskRow is one labelled case: the features the service computed when it
// triaged the case, and what happened afterwards.
type riskRow struct {
	id    uuid.UUID
	at    time.Time
	feats map[string]float64
	label bool
}

// riskSpec is what differs between the two models.
type riskSpec struct {
	name     string
	label    string
	features []models.Feature
	terms    func(map[string]float64) (float64, []term)
	heurVer  string
	noun     string // what a positive is, for messages
	rows     func(ctx context.Context, s *Service, o RiskTrainOptions, now time.Time) ([]riskRow, error)
	describe string // how to get more data
}

func riskSpecs(o RiskTrainOptions) map[string]riskSpec {
	return map[string]riskSpec{
		RiskStockout: {name: RiskStockout, features: StockoutFeatures(), terms: stockoutTerms, heurVer: StockoutHeuristicVersion,
			label: fmt.Sprintf("a stockout or release_rejected exception for the case's SKU (at its location or network-wide) within %s after triage",
				fmtDuration(o.StockoutHorizon)),
			noun: "cases followed by a stockout", rows: stockoutRows,
			describe: fmt.Sprintf("cases with a SKU, triaged at least %s ago", fmtDuration(o.StockoutHorizon))},
		RiskDelivery: {name: RiskDelivery, features: DeliveryFeatures(), terms: deliveryTerms, heurVer: DeliveryHeuristicVersion,
			label: "the order's shipments delivered after its promise (or still undelivered once it passed)",
			noun:  "late deliveries", rows: deliveryRows,
			describe: "cases of orders with shipments whose delivery, or promise, has passed"},
	}
}

// TrainRiskModels trains the stockout and delivery risk models from the
// cases in the database: each case stored the features the service
// computed when it triaged it (so training sees exactly what scoring
// sees, and nothing from after), and its label is what happened next.
// Cases are split by time: the oldest 60% fit a logistic regression, the
// next 20% fit its Platt calibration, the newest 20% measure it beside
// the heuristic. Unless DryRun, the models are stored as the newest
// active ones and put in force. With too little data for any model asked
// for, nothing is trained and the error says what is missing.
func (s *Service) TrainRiskModels(ctx context.Context, opts RiskTrainOptions) (_ []RiskTrainReport, err error) {
	defer derrors.Wrap(&err, "TrainRiskModels")
	opts = opts.withDefaults()
	specs := riskSpecs(opts)
	now := s.now()
	type fitted struct {
		rep   RiskTrainReport
		model *models.RiskModel
	}
	var out []fitted
	var short []string
	for _, name := range opts.Models {
		spec, ok := specs[name]
		if !ok {
			return nil, fmt.Errorf("no risk model %q: want %s or %s: %w", name, RiskStockout, RiskDelivery, derrors.Invalid)
		}
		rows, err := spec.rows(ctx, s, opts, now)
		if err != nil {
			return nil, fmt.Errorf("%s rows: %w", name, err)
		}
		if msg := tooLittle(spec, rows, opts); msg != "" {
			short = append(short, msg)
			continue
		}
		rep, m, err := fitRisk(spec, rows)
		if err != nil {
			if errors.Is(err, derrors.Invalid) { // a data problem: say so with the others
				short = append(short, err.Error())
				continue
			}
			return nil, err
		}
		out = append(out, fitted{rep, m})
	}
	if len(short) > 0 {
		return nil, fmt.Errorf("not enough labelled data, nothing was trained:\n  %s\nrun the demo or simulate orders first so that cases, stockouts and deliveries accumulate: %w",
			strings.Join(short, "\n  "), derrors.Invalid)
	}
	reps := make([]RiskTrainReport, len(out))
	for i, f := range out {
		reps[i] = f.rep
	}
	if opts.DryRun {
		return reps, nil
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, f := range out {
			params, err := json.Marshal(f.model)
			if err != nil {
				return err
			}
			metrics, err := json.Marshal(f.rep)
			if err != nil {
				return err
			}
			// A retrain that ends with the same parameters makes that
			// version the newest again.
			_, err = tx.Exec(ctx, `
				INSERT INTO risk_models (name, version, params, metrics, active, created_at) VALUES ($1, $2, $3, $4, true, $5)
				ON CONFLICT (name, version) DO UPDATE SET metrics = EXCLUDED.metrics, active = true, created_at = EXCLUDED.created_at`,
				f.model.Name, f.model.Version, params, metrics, now)
			if err != nil {
				return fmt.Errorf("storing %s model: %w", f.model.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range reps {
		reps[i].Stored = true
	}
	return reps, s.LoadRiskModels(ctx)
}

// tooLittle says why rows cannot train spec's model, or "".
func tooLittle(spec riskSpec, rows []riskRow, o RiskTrainOptions) string {
	pos := 0
	for _, r := range rows {
		if r.label {
			pos++
		}
	}
	if len(rows) >= o.MinRows && pos >= o.MinPerClass && len(rows)-pos >= o.MinPerClass {
		return ""
	}
	return fmt.Sprintf("%s: %d labelled cases (%d %s, %d not); need at least %d labelled rows with %d of each outcome (labelled: %s)",
		spec.name, len(rows), pos, spec.noun, len(rows)-pos, o.MinRows, o.MinPerClass, spec.describe)
}

// fitRisk splits rows by time, fits the model and its calibration, and
// measures model and heuristic on the newest slice.
func fitRisk(spec riskSpec, rows []riskRow) (RiskTrainReport, *models.RiskModel, error) {
	slices.SortStableFunc(rows, func(a, b riskRow) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.id.String(), b.id.String())
	})
	n := len(rows)
	train, cal, test := rows[:n*6/10], rows[n*6/10:n*8/10], rows[n*8/10:]
	rep := RiskTrainReport{Name: spec.name, Label: spec.label,
		Train: sliceOf(train), Calibration: sliceOf(cal), Test: sliceOf(test)}
	for _, sl := range []struct {
		name string
		s    Slice
	}{{"training", rep.Train}, {"calibration", rep.Calibration}, {"test", rep.Test}} {
		if sl.s.Positives == 0 || sl.s.Positives == sl.s.Rows {
			return rep, nil, fmt.Errorf("%s: the %s slice (%s to %s, %d cases) has only one outcome: both must occur in every time slice: %w",
				spec.name, sl.name, sl.s.From.Format(time.DateOnly), sl.s.To.Format(time.DateOnly), sl.s.Rows, derrors.Invalid)
		}
	}
	// Missing features count as typical, as the service scores them: the
	// training mean, which the scaler maps to 0.
	means := featureMeans(spec.features, train)
	xTrain, yTrain := riskMatrix(spec.features, train, means)
	xCal, yCal := riskMatrix(spec.features, cal, means)
	m, err := models.TrainRiskModel(spec.name, spec.features, xTrain, yTrain, xCal, yCal, models.RiskOptions{Calibration: models.CalibrationPlatt})
	if err != nil {
		return rep, nil, err
	}
	rep.Version = m.Version
	xTest, yTest := riskMatrix(spec.features, test, nil)
	pModel := make([]float64, len(test))
	pHeur := make([]float64, len(test))
	for i, r := range test {
		pModel[i] = m.Probability(xTest[i])
		bias, terms := spec.terms(r.feats)
		pHeur[i] = scoreRisk(nil, r.feats, spec.heurVer, bias, terms).Probability
	}
	if rep.Model, err = riskScores(pModel, yTest); err != nil {
		return rep, nil, err
	}
	if rep.Heuristic, err = riskScores(pHeur, yTest); err != nil {
		return rep, nil, err
	}
	return rep, m, nil
}

func sliceOf(rows []riskRow) Slice {
	s := Slice{Rows: len(rows)}
	for _, r := range rows {
		if r.label {
			s.Positives++
		}
	}
	if len(rows) > 0 {
		s.From, s.To = rows[0].at, rows[len(rows)-1].at
	}
	return s
}

// featureMeans is each feature's mean over the rows that have it, 0 for
// a feature no row has.
func featureMeans(fs []models.Feature, rows []riskRow) []float64 {
	means := make([]float64, len(fs))
	for j, f := range fs {
		var sum float64
		var n int
		for _, r := range rows {
			if v, ok := r.feats[f.Name]; ok && finite(v) {
				sum += v
				n++
			}
		}
		if n > 0 {
			means[j] = sum / float64(n)
		}
	}
	return means
}

// riskMatrix lays rows out in the order of fs; a missing value becomes
// fill's, or NaN when fill is nil.
func riskMatrix(fs []models.Feature, rows []riskRow, fill []float64) ([][]float64, []bool) {
	x := make([][]float64, len(rows))
	y := make([]bool, len(rows))
	for i, r := range rows {
		x[i] = make([]float64, len(fs))
		for j, f := range fs {
			v, ok := r.feats[f.Name]
			switch {
			case ok && finite(v):
				x[i][j] = v
			case fill != nil:
				x[i][j] = fill[j]
			default:
				x[i][j] = math.NaN()
			}
		}
		y[i] = r.label
	}
	return x, y
}

func riskScores(p []float64, y []bool) (RiskScores, error) {
	var s RiskScores
	var err error
	if s.AUC, err = models.ROCAUC(p, y); err != nil {
		return s, err
	}
	if s.Brier, err = models.BrierScore(p, y); err != nil {
		return s, err
	}
	s.ECE, _, err = models.ECE(p, y, 15)
	return s, err
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// scanRiskRows reads (id, at, features, label) rows.
func scanRiskRows(rows pgx.Rows) ([]riskRow, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (riskRow, error) {
		var x riskRow
		err := r.Scan(&x.id, &x.at, &x.feats, &x.label)
		return x, err
	})
}

// stockoutRows are the cases scored for stockout risk whose horizon has
// passed. The SKU is the exception's, else the only SKU of the lines it
// concerns (as the service picks it); the location is the exception's.
// The prediction moment is when the case was triaged.
func stockoutRows(ctx context.Context, s *Service, o RiskTrainOptions, now time.Time) ([]riskRow, error) {
	rows, err := s.pool.Query(ctx, `
		WITH c AS (
			SELECT c.id, c.exception_id, coalesce(c.triaged_at, c.created_at) AS at, c.risks->'stockout'->'features' AS f,
				e.sku, e.location
			FROM cases c JOIN core_exception_skus e ON e.exception_id = c.exception_id
			WHERE c.risks->'stockout'->>'method' IN ('model', 'heuristic') AND jsonb_typeof(c.risks->'stockout'->'features') = 'object'
				AND coalesce(c.triaged_at, c.created_at) <= $1::timestamptz - $2::interval)
		SELECT c.id, c.at, c.f, EXISTS (
			SELECT 1 FROM core_exceptions x
			WHERE x.sku = c.sku AND x.kind = ANY($3) AND x.id <> c.exception_id
				AND (x.location = c.location OR x.location = '' OR c.location = '')
				AND x.occurred_at > c.at AND x.occurred_at <= c.at + $2::interval)
		FROM c WHERE c.sku IS NOT NULL`,
		now, o.StockoutHorizon, []string{orchestration.KindStockout, orchestration.KindReleaseRejected})
	if err != nil {
		return nil, err
	}
	return scanRiskRows(rows)
}

// deliveryRows are the cases of orders with shipments whose outcome is
// known: every shipment delivered, or the promise passed. The promise is
// the one the service scored against (the order's promise, else the
// reporter's, else the order's own estimate). A case counts only when its
// outcome was still open when it was triaged: before the delivery, and
// for a late one before the promise passed.
func deliveryRows(ctx context.Context, s *Service, _ RiskTrainOptions, now time.Time) ([]riskRow, error) {
	rows, err := s.pool.Query(ctx, `
		WITH c AS (
			SELECT c.id, coalesce(c.triaged_at, c.created_at) AS at, c.risks->'delivery'->'features' AS f,
				coalesce(o.promised_by, (c.context->>'promised_by')::timestamptz, o.promise_date) AS promise,
				o.delivered = o.shipments AS all_delivered, o.last_delivered
			FROM cases c JOIN core_order_deliveries o ON o.order_id = c.order_id
			WHERE o.shipments > 0 AND c.risks->'delivery'->>'method' IN ('model', 'heuristic')
				AND jsonb_typeof(c.risks->'delivery'->'features') = 'object'),
		known AS (
			SELECT c.*, c.all_delivered AND c.last_delivered > c.promise OR NOT c.all_delivered AS late,
				CASE WHEN c.all_delivered AND c.last_delivered <= c.promise THEN c.last_delivered ELSE c.promise END AS known_at
			FROM c WHERE c.promise IS NOT NULL AND (c.all_delivered OR c.promise < $1))
		SELECT id, at, f, late FROM known WHERE at < known_at`, now)
	if err != nil {
		return nil, err
	}
	return scanRiskRows(rows)
}

// fmtDuration prints a whole number of days as "7d", else as Go does.
func fmtDuration(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
