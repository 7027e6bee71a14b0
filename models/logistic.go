package models

import (
	"fmt"
	"math"
)

// Scaler standardises features to zero mean and unit variance, with the
// mean and standard deviation learned from training data. A constant
// feature has Std 1 so it maps to 0 rather than NaN.
type Scaler struct {
	Mean []float64 `json:"mean"`
	Std  []float64 `json:"std"`
}

// checkMatrix validates a feature matrix and returns its width.
func checkMatrix(what string, x [][]float64) (int, error) {
	if len(x) == 0 {
		return 0, fmt.Errorf("%s: no rows: %w", what, ErrInvalid)
	}
	d := len(x[0])
	for i, row := range x {
		if len(row) != d {
			return 0, fmt.Errorf("%s: row %d has %d features, row 0 has %d: %w", what, i, len(row), d, ErrInvalid)
		}
		for j, v := range row {
			if !finite(v) {
				return 0, fmt.Errorf("%s: row %d feature %d is %v: %w", what, i, j, v, ErrInvalid)
			}
		}
	}
	return d, nil
}

// FitScaler learns each column's mean and (population) standard deviation.
func FitScaler(x [][]float64) (Scaler, error) {
	d, err := checkMatrix("fit scaler", x)
	if err != nil {
		return Scaler{}, err
	}
	s := Scaler{Mean: make([]float64, d), Std: make([]float64, d)}
	n := float64(len(x))
	for _, row := range x {
		for j, v := range row {
			s.Mean[j] += v
		}
	}
	for j := range s.Mean {
		s.Mean[j] /= n
	}
	for _, row := range x {
		for j, v := range row {
			dv := v - s.Mean[j]
			s.Std[j] += dv * dv
		}
	}
	for j := range s.Std {
		s.Std[j] = math.Sqrt(s.Std[j] / n)
		// Rounding leaves a constant column a tiny spread; treat it as none.
		if s.Std[j] <= 1e-9*math.Max(1, math.Abs(s.Mean[j])) {
			s.Std[j] = 1
		}
	}
	return s, nil
}

// Transform returns x standardised. A missing (NaN) value, or one past the
// end of x, becomes 0: the training mean.
func (s Scaler) Transform(x []float64) []float64 {
	return s.transformInto(make([]float64, len(s.Mean)), x)
}

func (s Scaler) transformInto(dst, x []float64) []float64 {
	for j := range s.Mean {
		if j >= len(x) || math.IsNaN(x[j]) {
			dst[j] = 0
			continue
		}
		dst[j] = (x[j] - s.Mean[j]) / s.Std[j]
	}
	return dst
}

// LogisticOptions configures FitLogisticRegression.
type LogisticOptions struct {
	// L2 is the ridge penalty on the standardised weights (not the bias):
	// the loss is Σ wᵢ·logloss + L2/2·‖w‖². 0 means 1; negative means none.
	L2 float64
	// ClassWeights weighs negative (index 0) and positive (index 1)
	// examples; zero entries mean 1.
	ClassWeights [2]float64
	// Balanced overrides ClassWeights with n/(2·n_class), so a rare
	// outcome counts as much as a common one.
	Balanced bool
	// MaxIter bounds Newton iterations; 0 means 100.
	MaxIter int
}

// LogisticRegression is a fitted logistic model on standardised features:
// P(y) = σ(Bias + Σ Weights[j]·(x[j]−Mean[j])/Std[j]).
type LogisticRegression struct {
	Scaler  Scaler    `json:"scaler"`
	Weights []float64 `json:"weights"`
	Bias    float64   `json:"bias"`
}

// Logit returns the log-odds for raw features x (see Scaler.Transform for
// missing values).
func (m *LogisticRegression) Logit(x []float64) float64 {
	z := m.Bias
	for j, w := range m.Weights {
		if j >= len(x) || math.IsNaN(x[j]) {
			continue
		}
		z += w * (x[j] - m.Scaler.Mean[j]) / m.Scaler.Std[j]
	}
	return z
}

// Predict returns the (uncalibrated) probability of the positive class.
func (m *LogisticRegression) Predict(x []float64) float64 { return sigmoid(m.Logit(x)) }

// FitLogisticRegression fits the model by Newton's method (iteratively
// reweighted least squares) with a backtracking line search, which
// converges in a handful of iterations for the few dozen features a risk
// model has. Both classes must be present.
func FitLogisticRegression(x [][]float64, y []bool, opts LogisticOptions) (*LogisticRegression, error) {
	if _, err := checkMatrix("fit logistic regression", x); err != nil {
		return nil, err
	}
	if len(y) != len(x) {
		return nil, fmt.Errorf("fit logistic regression: %d rows and %d labels: %w", len(x), len(y), ErrInvalid)
	}
	var nPos float64
	for _, v := range y {
		if v {
			nPos++
		}
	}
	n := float64(len(y))
	if nPos == 0 || nPos == n {
		return nil, fmt.Errorf("fit logistic regression: %v positives of %v, need both classes: %w", nPos, n, ErrInvalid)
	}
	scaler, err := FitScaler(x)
	if err != nil {
		return nil, fmt.Errorf("fit logistic regression: %w", err)
	}
	lambda := opts.L2
	switch {
	case lambda == 0:
		lambda = 1
	case lambda < 0:
		lambda = 0
	}
	cw := opts.ClassWeights
	for i := range cw {
		if cw[i] == 0 {
			cw[i] = 1
		}
		if cw[i] < 0 || !finite(cw[i]) {
			return nil, fmt.Errorf("fit logistic regression: class weight %v: %w", cw[i], ErrInvalid)
		}
	}
	if opts.Balanced {
		cw = [2]float64{n / (2 * (n - nPos)), n / (2 * nPos)}
	}
	maxIter := opts.MaxIter
	if maxIter <= 0 {
		maxIter = 100
	}

	d := len(scaler.Mean)
	z := make([][]float64, len(x)) // standardised rows
	sw := make([]float64, len(x))  // sample weights
	for i, row := range x {
		z[i] = scaler.Transform(row)
		sw[i] = cw[0]
		if y[i] {
			sw[i] = cw[1]
		}
	}
	// beta[0] is the bias, beta[1:] the weights; the bias starts at the
	// weighted base rate so the first step is small.
	beta := make([]float64, d+1)
	var wPos, wAll float64
	for i := range y {
		wAll += sw[i]
		if y[i] {
			wPos += sw[i]
		}
	}
	beta[0] = math.Log(wPos / (wAll - wPos))
	loss := func(b []float64) float64 {
		var l float64
		for i, row := range z {
			t := b[0]
			for j, v := range row {
				t += b[j+1] * v
			}
			l += sw[i] * (math.Max(t, 0) + math.Log1p(math.Exp(-math.Abs(t))))
			if y[i] {
				l -= sw[i] * t
			}
		}
		for _, w := range b[1:] {
			l += lambda / 2 * w * w
		}
		return l
	}
	cur := loss(beta)
	grad := make([]float64, d+1)
	hess := make([][]float64, d+1)
	for i := range hess {
		hess[i] = make([]float64, d+1)
	}
	next := make([]float64, d+1)
	for iter := 0; iter < maxIter; iter++ {
		for i := range grad {
			grad[i] = 0
			clear(hess[i])
		}
		for i, row := range z {
			t := beta[0]
			for j, v := range row {
				t += beta[j+1] * v
			}
			p := sigmoid(t)
			r := p
			if y[i] {
				r = p - 1
			}
			g, h := sw[i]*r, sw[i]*math.Max(p*(1-p), 1e-10)
			// Feature 0 is the constant 1 for the bias.
			for a := 0; a <= d; a++ {
				va := 1.0
				if a > 0 {
					va = row[a-1]
				}
				grad[a] += g * va
				for b := 0; b <= a; b++ {
					vb := 1.0
					if b > 0 {
						vb = row[b-1]
					}
					hess[a][b] += h * va * vb
				}
			}
		}
		for a := 1; a <= d; a++ {
			grad[a] += lambda * beta[a]
			hess[a][a] += lambda
		}
		for a := range hess {
			hess[a][a] += 1e-9 // keeps the system solvable with separable data and no penalty
		}
		step, err := solveCholesky(hess, grad)
		if err != nil {
			return nil, fmt.Errorf("fit logistic regression: iteration %d: %w", iter, err)
		}
		t := 1.0
		improved := false
		for ; t > 1e-10; t /= 2 {
			for i := range next {
				next[i] = beta[i] - t*step[i]
			}
			if l := loss(next); l <= cur {
				copy(beta, next)
				improved = cur-l > 1e-12*math.Max(1, math.Abs(cur))
				cur = l
				break
			}
		}
		var maxStep float64
		for _, s := range step {
			maxStep = math.Max(maxStep, math.Abs(t*s))
		}
		if !improved || maxStep < 1e-9 {
			break
		}
	}
	return &LogisticRegression{Scaler: scaler, Weights: beta[1:], Bias: beta[0]}, nil
}

// solveCholesky solves H·s = g for symmetric positive-definite H, of which
// only the lower triangle is read.
func solveCholesky(h [][]float64, g []float64) ([]float64, error) {
	n := len(g)
	l := make([][]float64, n)
	for i := range l {
		l[i] = make([]float64, n)
		for j := 0; j <= i; j++ {
			s := h[i][j]
			for k := 0; k < j; k++ {
				s -= l[i][k] * l[j][k]
			}
			if i == j {
				if s <= 0 || math.IsNaN(s) {
					return nil, fmt.Errorf("hessian not positive definite at %d (collinear features and no L2 penalty?): %w", i, ErrInvalid)
				}
				l[i][i] = math.Sqrt(s)
			} else {
				l[i][j] = s / l[j][j]
			}
		}
	}
	s := make([]float64, n)
	for i := 0; i < n; i++ { // L·u = g
		v := g[i]
		for k := 0; k < i; k++ {
			v -= l[i][k] * s[k]
		}
		s[i] = v / l[i][i]
	}
	for i := n - 1; i >= 0; i-- { // Lᵀ·s = u
		v := s[i]
		for k := i + 1; k < n; k++ {
			v -= l[k][i] * s[k]
		}
		s[i] = v / l[i][i]
	}
	return s, nil
}
