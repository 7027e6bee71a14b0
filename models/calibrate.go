package models

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Calibrator maps a raw score (a vote share, a logistic probability) to a
// probability that the prediction is right. Fit it on held-out data, never
// on the data the scores came from.
type Calibrator interface {
	Calibrate(score float64) float64
}

// Platt is Platt scaling: p = 1 / (1 + exp(−(A·score + B))).
type Platt struct {
	A float64 `json:"a"`
	B float64 `json:"b"`
}

// Calibrate returns the calibrated probability of score.
func (p *Platt) Calibrate(score float64) float64 { return sigmoid(p.A*score + p.B) }

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// checkScores validates calibration data.
func checkScores(what string, scores []float64, outcomes []bool) error {
	if err := checkPairs(what, len(scores), len(outcomes)); err != nil {
		return err
	}
	for i, s := range scores {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return fmt.Errorf("%s: score %d is %v: %w", what, i, s, ErrInvalid)
		}
	}
	return nil
}

// FitPlatt fits Platt scaling by Newton's method on the log loss, with
// Platt's smoothed targets (N₊+1)/(N₊+2) and 1/(N₋+2) so a separable
// calibration set does not drive the slope to infinity.
func FitPlatt(scores []float64, outcomes []bool) (*Platt, error) {
	if err := checkScores("fit platt", scores, outcomes); err != nil {
		return nil, err
	}
	var nPos, nNeg float64
	for _, o := range outcomes {
		if o {
			nPos++
		} else {
			nNeg++
		}
	}
	hi, lo := (nPos+1)/(nPos+2), 1/(nNeg+2)
	target := func(i int) float64 {
		if outcomes[i] {
			return hi
		}
		return lo
	}
	loss := func(a, b float64) float64 {
		var l float64
		for i, s := range scores {
			z := a*s + b
			// log(1+e^z) − t·z, computed without overflow.
			l += math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z))) - target(i)*z
		}
		return l
	}
	a, b := 0.0, math.Log((nPos+1)/(nNeg+1))
	cur := loss(a, b)
	for iter := 0; iter < 100; iter++ {
		var ga, gb, haa, hab, hbb float64
		for i, s := range scores {
			p := sigmoid(a*s + b)
			d := p - target(i)
			w := math.Max(p*(1-p), 1e-12)
			ga += d * s
			gb += d
			haa += w * s * s
			hab += w * s
			hbb += w
		}
		haa += 1e-12 // keeps the Hessian invertible when all scores are equal
		det := haa*hbb - hab*hab
		if det <= 0 {
			break
		}
		da := (hbb*ga - hab*gb) / det
		db := (haa*gb - hab*ga) / det
		step := 1.0
		for step > 1e-10 {
			na, nb := a-step*da, b-step*db
			if l := loss(na, nb); l <= cur+1e-12 {
				a, b, cur = na, nb, l
				break
			}
			step /= 2
		}
		if step <= 1e-10 || math.Abs(step*da)+math.Abs(step*db) < 1e-10 {
			break
		}
	}
	return &Platt{A: a, B: b}, nil
}

// Isotonic is isotonic regression: a non-decreasing, piecewise-linear map
// from score to probability through the points (X[i], Y[i]), flat outside
// them. FitIsotonic builds it by pool-adjacent-violators.
type Isotonic struct {
	X []float64 `json:"x"`
	Y []float64 `json:"y"`
}

// Calibrate returns the calibrated probability of score.
func (m *Isotonic) Calibrate(score float64) float64 {
	n := len(m.X)
	switch {
	case n == 0:
		return score
	case score <= m.X[0]:
		return m.Y[0]
	case score >= m.X[n-1]:
		return m.Y[n-1]
	}
	i := sort.SearchFloat64s(m.X, score) // m.X[i-1] < score <= m.X[i]
	if m.X[i] == score {
		return m.Y[i]
	}
	t := (score - m.X[i-1]) / (m.X[i] - m.X[i-1])
	return m.Y[i-1] + t*(m.Y[i]-m.Y[i-1])
}

// FitIsotonic fits isotonic regression of outcomes on scores by
// pool-adjacent-violators. Equal scores are pooled first, so the map is a
// function of the score alone.
func FitIsotonic(scores []float64, outcomes []bool) (*Isotonic, error) {
	if err := checkScores("fit isotonic", scores, outcomes); err != nil {
		return nil, err
	}
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		switch {
		case scores[a] < scores[b]:
			return -1
		case scores[a] > scores[b]:
			return 1
		}
		return 0
	})
	type block struct {
		lo, hi float64 // score range
		sum, n float64 // outcomes and count
	}
	var stack []block
	for i := 0; i < len(order); {
		b := block{lo: scores[order[i]], hi: scores[order[i]]}
		for i < len(order) && scores[order[i]] == b.lo {
			if outcomes[order[i]] {
				b.sum++
			}
			b.n++
			i++
		}
		// Merge while the previous block's mean is not below this one's.
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			if top.sum*b.n < b.sum*top.n {
				break
			}
			b = block{lo: top.lo, hi: b.hi, sum: top.sum + b.sum, n: top.n + b.n}
			stack = stack[:len(stack)-1]
		}
		stack = append(stack, b)
	}
	m := &Isotonic{}
	for _, b := range stack {
		y := b.sum / b.n
		m.X = append(m.X, b.lo)
		m.Y = append(m.Y, y)
		if b.hi > b.lo {
			m.X = append(m.X, b.hi)
			m.Y = append(m.Y, y)
		}
	}
	return m, nil
}

// Calibration is a serialisable choice of calibrator, for models that are
// stored as JSON. Method is "none", "platt" or "isotonic"; the matching
// field holds the parameters.
type Calibration struct {
	Method   string    `json:"method"`
	Platt    *Platt    `json:"platt,omitempty"`
	Isotonic *Isotonic `json:"isotonic,omitempty"`
}

// Calibration methods.
const (
	CalibrationNone     = "none"
	CalibrationPlatt    = "platt"
	CalibrationIsotonic = "isotonic"
)

// FitCalibration fits the calibrator named by method on held-out scores.
func FitCalibration(method string, scores []float64, outcomes []bool) (Calibration, error) {
	switch method {
	case CalibrationNone, "":
		return Calibration{Method: CalibrationNone}, nil
	case CalibrationPlatt:
		p, err := FitPlatt(scores, outcomes)
		if err != nil {
			return Calibration{}, fmt.Errorf("fit calibration: %w", err)
		}
		return Calibration{Method: method, Platt: p}, nil
	case CalibrationIsotonic:
		m, err := FitIsotonic(scores, outcomes)
		if err != nil {
			return Calibration{}, fmt.Errorf("fit calibration: %w", err)
		}
		return Calibration{Method: method, Isotonic: m}, nil
	}
	return Calibration{}, fmt.Errorf("fit calibration: unknown method %q (want none, platt or isotonic): %w", method, ErrInvalid)
}

// Calibrate applies the chosen calibrator; "none" returns score unchanged.
func (c Calibration) Calibrate(score float64) float64 {
	switch {
	case c.Method == CalibrationPlatt && c.Platt != nil:
		return c.Platt.Calibrate(score)
	case c.Method == CalibrationIsotonic && c.Isotonic != nil:
		return c.Isotonic.Calibrate(score)
	}
	return score
}

// Validate checks that the method is known and its parameters are present
// and finite, as after loading from JSON.
func (c Calibration) Validate() error {
	switch c.Method {
	case CalibrationNone:
		return nil
	case CalibrationPlatt:
		if c.Platt == nil || !finite(c.Platt.A) || !finite(c.Platt.B) {
			return fmt.Errorf("platt calibration without finite parameters: %w", ErrInvalid)
		}
		return nil
	case CalibrationIsotonic:
		m := c.Isotonic
		if m == nil || len(m.X) == 0 || len(m.X) != len(m.Y) {
			return fmt.Errorf("isotonic calibration without matching points: %w", ErrInvalid)
		}
		for i := range m.X {
			if !finite(m.X[i]) || !finite(m.Y[i]) || i > 0 && (m.X[i] < m.X[i-1] || m.Y[i] < m.Y[i-1]) {
				return fmt.Errorf("isotonic calibration point %d not finite and non-decreasing: %w", i, ErrInvalid)
			}
		}
		return nil
	}
	return fmt.Errorf("calibration method %q unknown: %w", c.Method, ErrInvalid)
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// String renders the calibration as JSON for logs.
func (c Calibration) String() string {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Sprintf("calibration %s", c.Method)
	}
	return string(b)
}
