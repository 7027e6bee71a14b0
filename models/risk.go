package models

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Feature describes one input of a risk model.
type Feature struct {
	// Name is the machine name, e.g. "days_of_cover".
	Name string `json:"name"`
	// Label is what a support agent calls it, e.g. "days of stock cover".
	Label string `json:"label"`
}

// Factor is one reason behind a risk score.
type Factor struct {
	Name string `json:"name"`
	// Description says it in words a support agent understands, e.g. "only
	// 2 days of cover left".
	Description string `json:"description"`
	// Contribution is the feature's share of the log-odds: positive raises
	// the risk, negative lowers it.
	Contribution float64 `json:"contribution"`
}

// DescribeFunc words a feature's value for people; typical is its mean in
// the training data.
type DescribeFunc func(value, typical float64) string

// RiskOptions configures TrainRiskModel.
type RiskOptions struct {
	Logistic LogisticOptions
	// Calibration is "none", "platt" or "isotonic"; "" means "platt".
	Calibration string
	// TopK is how many factors Score returns; 0 means 3.
	TopK int
}

// RiskModel turns features into a calibrated probability (of a stockout,
// of a late delivery) and the factors that drove it. It is plain data:
// marshal it to JSON to store it and load it with LoadRiskModel. Version is
// a hash of everything that affects a score, so two models with the same
// version score alike.
type RiskModel struct {
	// Name says what is predicted, e.g. "stockout".
	Name string `json:"name"`
	// Version is ComputeVersion() of the rest; stored decisions cite it.
	Version string `json:"version"`
	// Features are the inputs, in the order of a row's values.
	Features []Feature `json:"features"`
	// Model gives the uncalibrated log-odds.
	Model LogisticRegression `json:"model"`
	// Calibration maps the log-odds to a probability.
	Calibration Calibration `json:"calibration"`
	// TopK is how many factors Score returns.
	TopK int `json:"top_k"`

	describe map[string]DescribeFunc // not stored: code, set after loading
}

// TrainRiskModel fits the logistic model on the training rows and its
// calibrator, from log-odds to probability, on separate held-out
// calibration rows (xCal may be empty when opts.Calibration is "none").
// Each row holds one value per feature, in the order of features.
func TrainRiskModel(name string, features []Feature, xTrain [][]float64, yTrain []bool, xCal [][]float64, yCal []bool, opts RiskOptions) (*RiskModel, error) {
	if len(features) == 0 {
		return nil, fmt.Errorf("train risk model %q: no features: %w", name, ErrInvalid)
	}
	if d, err := checkMatrix("train risk model", xTrain); err != nil {
		return nil, fmt.Errorf("train risk model %q: %w", name, err)
	} else if d != len(features) {
		return nil, fmt.Errorf("train risk model %q: rows have %d values for %d features: %w", name, d, len(features), ErrInvalid)
	}
	lr, err := FitLogisticRegression(xTrain, yTrain, opts.Logistic)
	if err != nil {
		return nil, fmt.Errorf("train risk model %q: %w", name, err)
	}
	method := opts.Calibration
	if method == "" {
		method = CalibrationPlatt
	}
	var cal Calibration
	if method == CalibrationNone {
		cal = Calibration{Method: CalibrationNone}
	} else {
		if len(xCal) != len(yCal) || len(xCal) == 0 {
			return nil, fmt.Errorf("train risk model %q: %s calibration needs held-out rows, got %d rows and %d labels: %w", name, method, len(xCal), len(yCal), ErrInvalid)
		}
		scores := make([]float64, len(xCal))
		for i, row := range xCal {
			if len(row) != len(features) {
				return nil, fmt.Errorf("train risk model %q: calibration row %d has %d values for %d features: %w", name, i, len(row), len(features), ErrInvalid)
			}
			scores[i] = lr.Logit(row)
		}
		if cal, err = FitCalibration(method, scores, yCal); err != nil {
			return nil, fmt.Errorf("train risk model %q: %w", name, err)
		}
	}
	topK := opts.TopK
	if topK <= 0 {
		topK = 3
	}
	m := &RiskModel{
		Name:        name,
		Features:    slices.Clone(features),
		Model:       *lr,
		Calibration: cal,
		TopK:        topK,
	}
	m.Version = m.ComputeVersion()
	return m, nil
}

// ComputeVersion returns "sha256:" and the first 16 hex digits of the hash
// of the model's parameters (everything but Version itself).
func (m *RiskModel) ComputeVersion() string {
	c := *m
	c.Version = ""
	// Marshalling a struct of slices, numbers and strings cannot fail, and
	// encoding/json writes floats in a canonical shortest form.
	b, _ := json.Marshal(&c)
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// Validate checks a model's shape, that its numbers are finite and that
// Version matches its parameters.
func (m *RiskModel) Validate() error {
	d := len(m.Features)
	if d == 0 {
		return fmt.Errorf("risk model %q: no features: %w", m.Name, ErrInvalid)
	}
	lr := &m.Model
	if len(lr.Weights) != d || len(lr.Scaler.Mean) != d || len(lr.Scaler.Std) != d {
		return fmt.Errorf("risk model %q: %d features but %d weights, %d means, %d deviations: %w",
			m.Name, d, len(lr.Weights), len(lr.Scaler.Mean), len(lr.Scaler.Std), ErrInvalid)
	}
	for j := range d {
		if m.Features[j].Name == "" {
			return fmt.Errorf("risk model %q: feature %d has no name: %w", m.Name, j, ErrInvalid)
		}
		if !finite(lr.Weights[j]) || !finite(lr.Scaler.Mean[j]) || !(lr.Scaler.Std[j] > 0) || !finite(lr.Scaler.Std[j]) {
			return fmt.Errorf("risk model %q: feature %q has invalid parameters: %w", m.Name, m.Features[j].Name, ErrInvalid)
		}
	}
	if !finite(lr.Bias) {
		return fmt.Errorf("risk model %q: bias %v: %w", m.Name, lr.Bias, ErrInvalid)
	}
	if err := m.Calibration.Validate(); err != nil {
		return fmt.Errorf("risk model %q: %w", m.Name, err)
	}
	if v := m.ComputeVersion(); v != m.Version {
		return fmt.Errorf("risk model %q: version %q does not match its parameters (%q): %w", m.Name, m.Version, v, ErrInvalid)
	}
	return nil
}

// LoadRiskModel unmarshals a model stored as JSON and validates it.
func LoadRiskModel(data []byte) (*RiskModel, error) {
	var m RiskModel
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("load risk model: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("load risk model: %w", err)
	}
	return &m, nil
}

// SetDescriber sets how Score words the named feature. Without one, a
// factor reads like "days of stock cover 2 (typically 9.5)".
func (m *RiskModel) SetDescriber(name string, fn DescribeFunc) error {
	for _, f := range m.Features {
		if f.Name == name {
			if m.describe == nil {
				m.describe = make(map[string]DescribeFunc)
			}
			m.describe[name] = fn
			return nil
		}
	}
	return fmt.Errorf("risk model %q: no feature %q to describe: %w", m.Name, name, ErrInvalid)
}

// Probability returns the calibrated probability for x alone. The
// calibrator maps the model's log-odds, not its probability: Platt scaling
// of a probability squeezed into [0, 1] cannot reach the tails.
func (m *RiskModel) Probability(x []float64) float64 {
	if m.Calibration.Method == CalibrationNone {
		return m.Model.Predict(x)
	}
	return m.Calibration.Calibrate(m.Model.Logit(x))
}

// Score returns the calibrated probability for x, which holds one value
// per feature (a missing or NaN value counts as typical), and the top TopK
// factors by |standardised value × weight|: those raising the risk first,
// largest first, then those lowering it.
func (m *RiskModel) Score(x []float64) (p float64, factors []Factor) {
	p = m.Probability(x)
	type contrib struct {
		j int
		c float64
	}
	var cs []contrib
	sc := m.Model.Scaler
	for j, w := range m.Model.Weights {
		if j >= len(x) || math.IsNaN(x[j]) {
			continue
		}
		if c := w * (x[j] - sc.Mean[j]) / sc.Std[j]; math.Abs(c) > 1e-9 {
			cs = append(cs, contrib{j, c})
		}
	}
	slices.SortStableFunc(cs, func(a, b contrib) int { return cmp.Compare(math.Abs(b.c), math.Abs(a.c)) })
	cs = cs[:min(len(cs), m.TopK)]
	slices.SortStableFunc(cs, func(a, b contrib) int {
		if (a.c > 0) != (b.c > 0) {
			if a.c > 0 {
				return -1
			}
			return 1
		}
		return cmp.Compare(math.Abs(b.c), math.Abs(a.c))
	})
	factors = make([]Factor, len(cs))
	for i, c := range cs {
		f := m.Features[c.j]
		factors[i] = Factor{Name: f.Name, Description: m.describeValue(f, x[c.j], sc.Mean[c.j]), Contribution: c.c}
	}
	return p, factors
}

func (m *RiskModel) describeValue(f Feature, value, typical float64) string {
	if fn := m.describe[f.Name]; fn != nil {
		return fn(value, typical)
	}
	label := f.Label
	if label == "" {
		label = f.Name
	}
	return fmt.Sprintf("%s %s (typically %s)", label, formatValue(value), formatValue(typical))
}

// formatValue prints a number as people write it: no exponent, at most two
// decimals, no trailing zeros.
func formatValue(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}
