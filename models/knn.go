package models

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Neighbor is a labelled example found near a query, with its cosine
// similarity to the query. The service gets them from pgvector; evaluation
// gets them from an Index.
type Neighbor struct {
	Label      string
	Similarity float64
}

// VoteWeighting says how a neighbour's similarity becomes its vote.
type VoteWeighting int

const (
	// WeightPower weighs a neighbour by max(similarity, 0)^Power.
	WeightPower VoteWeighting = iota
	// WeightSoftmax weighs a neighbour by exp(similarity/Temperature).
	WeightSoftmax
	// WeightUniform gives every neighbour one vote.
	WeightUniform
)

// VoteOptions configures Vote. The zero value votes with all neighbours,
// weighted by similarity.
type VoteOptions struct {
	// K limits the vote to the first K neighbours; 0 uses all of them.
	K int
	// Weighting turns similarities into votes.
	Weighting VoteWeighting
	// Power is the exponent of WeightPower; 0 means 1.
	Power float64
	// Temperature is the scale of WeightSoftmax; 0 means 0.1.
	Temperature float64
}

// DefaultVoteOptions are the settings the eval command and the service use
// unless told otherwise, chosen by cross-validation on training data.
func DefaultVoteOptions() VoteOptions {
	return VoteOptions{K: 10, Weighting: WeightSoftmax, Temperature: 0.05}
}

func (o VoteOptions) weight(sim float64) float64 {
	switch o.Weighting {
	case WeightUniform:
		return 1
	case WeightSoftmax:
		t := o.Temperature
		if t <= 0 {
			t = 0.1
		}
		return math.Exp((sim - 1) / t) // shifted by the maximum cosine so it never overflows
	default:
		if sim <= 0 {
			return 0
		}
		p := o.Power
		if p == 0 {
			p = 1
		}
		return math.Pow(sim, p)
	}
}

// Vote is the kNN classifier: each neighbour votes for its label with a
// weight from its similarity. It returns the winning label, its share of
// the votes (the raw confidence, in [0, 1]) and every label's share. Ties go
// to the label with the most similar neighbour, then to the smaller label.
// With no neighbours, or none with a positive weight, it returns "", 0 and
// an empty map.
func Vote(neigh []Neighbor, opts VoteOptions) (label string, score float64, dist map[string]float64) {
	if opts.K > 0 && len(neigh) > opts.K {
		neigh = neigh[:opts.K]
	}
	dist = make(map[string]float64, len(neigh))
	best := make(map[string]float64, len(neigh))
	var total float64
	for _, n := range neigh {
		w := opts.weight(n.Similarity)
		if w <= 0 || math.IsNaN(w) {
			continue
		}
		dist[n.Label] += w
		total += w
		if s, ok := best[n.Label]; !ok || n.Similarity > s {
			best[n.Label] = n.Similarity
		}
	}
	if total == 0 {
		return "", 0, dist
	}
	found := false
	for l, w := range dist {
		dist[l] = w / total
		switch {
		case !found, dist[l] > score,
			dist[l] == score && (best[l] > best[label] || best[l] == best[label] && l < label):
			label, score, found = l, dist[l], true
		}
	}
	return label, score, dist
}

// Index is an exact in-memory cosine index for evaluation and small label
// sets. Vectors are normalised when added. Build it with Add, then Search
// from any number of goroutines.
type Index struct {
	dim    int
	labels []string
	vecs   []float32 // len(labels) rows of dim
}

// NewIndex returns an empty index for vectors of length dim.
func NewIndex(dim int) *Index { return &Index{dim: dim} }

// Len returns the number of vectors in the index.
func (ix *Index) Len() int { return len(ix.labels) }

// Dim returns the vector length the index takes.
func (ix *Index) Dim() int { return ix.dim }

// Add stores vec under label. It fails on a vector of the wrong length or
// one containing NaN or Inf.
func (ix *Index) Add(label string, vec []float32) error {
	if len(vec) != ix.dim {
		return fmt.Errorf("index add %q: vector of length %d, index holds %d: %w", label, len(vec), ix.dim, ErrDimension)
	}
	var s float64
	for _, x := range vec {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("index add %q: vector contains %v: %w", label, x, ErrInvalid)
		}
		s += float64(x) * float64(x)
	}
	inv := float32(0)
	if s > 0 {
		inv = float32(1 / math.Sqrt(s))
	}
	for _, x := range vec {
		ix.vecs = append(ix.vecs, x*inv)
	}
	ix.labels = append(ix.labels, label)
	return nil
}

// Search returns the k vectors most similar to vec by cosine, most similar
// first; ties keep insertion order. It returns nil when vec has the wrong
// length or k <= 0.
func (ix *Index) Search(vec []float32, k int) []Neighbor {
	if len(vec) != ix.dim || k <= 0 {
		return nil
	}
	q := slices.Clone(vec)
	normalize(q)
	type hit struct {
		i   int
		sim float32
	}
	top := make([]hit, 0, k+1)
	for i := range ix.labels {
		row := ix.vecs[i*ix.dim : (i+1)*ix.dim]
		sim := dot32(q, row)
		if len(top) == k && sim <= top[k-1].sim {
			continue
		}
		// Insertion into the short sorted list beats a heap for small k.
		j := len(top)
		top = append(top, hit{})
		for j > 0 && top[j-1].sim < sim {
			top[j] = top[j-1]
			j--
		}
		top[j] = hit{i, sim}
		if len(top) > k {
			top = top[:k]
		}
	}
	out := make([]Neighbor, len(top))
	for j, h := range top {
		out[j] = Neighbor{Label: ix.labels[h.i], Similarity: float64(h.sim)}
	}
	return out
}

// dot32 is the inner product of two equal-length vectors, unrolled by four.
func dot32(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

// VoteResult is one kNN classification: the winning label, its raw vote
// share and every label's share.
type VoteResult struct {
	Label string
	Score float64
	Dist  map[string]float64
}

// CrossValidateVotes classifies every example by a vote of its k nearest
// neighbours among the examples of the other folds, so each result is what
// the classifier would have said about an example it had never seen. Use
// the results to fit a Calibrator and to choose thresholds without touching
// test data. folds[i] is example i's fold, e.g. from StratifiedFolds.
func CrossValidateVotes(vecs [][]float32, labels []string, folds []int, k int, opts VoteOptions) ([]VoteResult, error) {
	if len(vecs) != len(labels) || len(vecs) != len(folds) {
		return nil, fmt.Errorf("cross-validate votes: %d vectors, %d labels, %d folds: %w", len(vecs), len(labels), len(folds), ErrInvalid)
	}
	if len(vecs) == 0 {
		return nil, fmt.Errorf("cross-validate votes: no examples: %w", ErrInvalid)
	}
	nFolds := slices.Max(folds) + 1
	dim := len(vecs[0])
	out := make([]VoteResult, len(vecs))
	for f := range nFolds {
		ix := NewIndex(dim)
		for i, v := range vecs {
			if folds[i] == f {
				continue
			}
			if err := ix.Add(labels[i], v); err != nil {
				return nil, fmt.Errorf("cross-validate votes: example %d: %w", i, err)
			}
		}
		for i, v := range vecs {
			if folds[i] != f {
				continue
			}
			if len(v) != dim {
				return nil, fmt.Errorf("cross-validate votes: example %d has length %d, want %d: %w", i, len(v), dim, ErrDimension)
			}
			label, score, dist := Vote(ix.Search(v, k), opts)
			out[i] = VoteResult{Label: label, Score: score, Dist: dist}
		}
	}
	return out, nil
}

// sortedKeys returns m's keys in order, for deterministic output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare[string])
	return keys
}
