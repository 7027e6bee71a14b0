package models

import (
	"errors"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestVote(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		neigh     []Neighbor
		opts      VoteOptions
		wantLabel string
		wantScore float64
		wantDist  map[string]float64
	}{
		{
			name:      "none",
			opts:      VoteOptions{},
			wantDist:  map[string]float64{},
			wantLabel: "", wantScore: 0,
		},
		{
			name:      "uniform majority",
			neigh:     []Neighbor{{"a", 0.9}, {"b", 0.8}, {"b", 0.7}},
			opts:      VoteOptions{Weighting: WeightUniform},
			wantLabel: "b", wantScore: 2.0 / 3,
			wantDist: map[string]float64{"a": 1.0 / 3, "b": 2.0 / 3},
		},
		{
			name:      "power weighting lets one close neighbour outvote two far ones",
			neigh:     []Neighbor{{"a", 0.9}, {"b", 0.5}, {"b", 0.5}},
			opts:      VoteOptions{Power: 2},
			wantLabel: "a", wantScore: 0.81 / 1.31,
			wantDist: map[string]float64{"a": 0.81 / 1.31, "b": 0.5 / 1.31},
		},
		{
			name:      "power 1 by default; negative similarities do not vote",
			neigh:     []Neighbor{{"a", 0.6}, {"b", 0.4}, {"c", -0.9}},
			opts:      VoteOptions{},
			wantLabel: "a", wantScore: 0.6,
			wantDist: map[string]float64{"a": 0.6, "b": 0.4},
		},
		{
			name:      "softmax",
			neigh:     []Neighbor{{"a", 0.9}, {"b", 0.8}},
			opts:      VoteOptions{Weighting: WeightSoftmax, Temperature: 0.1},
			wantLabel: "a", wantScore: 1 / (1 + math.Exp(-1)),
			wantDist: map[string]float64{"a": 1 / (1 + math.Exp(-1)), "b": 1 / (1 + math.Exp(1))},
		},
		{
			name:      "K truncates",
			neigh:     []Neighbor{{"a", 0.9}, {"b", 0.8}, {"b", 0.8}},
			opts:      VoteOptions{K: 1, Weighting: WeightUniform},
			wantLabel: "a", wantScore: 1,
			wantDist: map[string]float64{"a": 1},
		},
		{
			name:      "tie goes to the closest neighbour",
			neigh:     []Neighbor{{"b", 0.5}, {"a", 0.9}, {"b", 0.5}, {"a", 0.1}},
			opts:      VoteOptions{Weighting: WeightUniform},
			wantLabel: "a", wantScore: 0.5,
			wantDist: map[string]float64{"a": 0.5, "b": 0.5},
		},
		{
			name:      "full tie goes to the smaller label",
			neigh:     []Neighbor{{"b", 0.5}, {"a", 0.5}},
			opts:      VoteOptions{Weighting: WeightUniform},
			wantLabel: "a", wantScore: 0.5,
			wantDist: map[string]float64{"a": 0.5, "b": 0.5},
		},
		{
			name:      "all weights zero",
			neigh:     []Neighbor{{"a", 0}, {"b", -0.3}},
			opts:      VoteOptions{},
			wantLabel: "", wantScore: 0,
			wantDist: map[string]float64{},
		},
	}
	for _, tt := range tests {
		label, score, dist := Vote(tt.neigh, tt.opts)
		eq := maps.EqualFunc(dist, tt.wantDist, func(a, b float64) bool { return math.Abs(a-b) < 1e-12 })
		if label != tt.wantLabel || math.Abs(score-tt.wantScore) > 1e-12 || !eq {
			t.Errorf("%s: Vote(%v, %+v) = %q, %v, %v; want %q, %v, %v", tt.name, tt.neigh, tt.opts, label, score, dist, tt.wantLabel, tt.wantScore, tt.wantDist)
		}
	}
}

func TestVoteDeterministic(t *testing.T) {
	t.Parallel()
	// Map iteration order must not leak into the result.
	neigh := []Neighbor{{"x", 0.5}, {"y", 0.5}, {"z", 0.5}, {"w", 0.5}}
	for range 50 {
		if label, _, _ := Vote(neigh, VoteOptions{}); label != "w" {
			t.Fatalf("Vote(%v) = %q, want %q", neigh, label, "w")
		}
	}
}

func TestIndex(t *testing.T) {
	t.Parallel()
	ix := NewIndex(2)
	add := []struct {
		label string
		vec   []float32
	}{
		{"east", []float32{1, 0}},
		{"north", []float32{0, 5}}, // length does not matter
		{"northeast", []float32{1, 1}},
		{"west", []float32{-1, 0}},
		{"east-too", []float32{2, 0}},
		{"zero", []float32{0, 0}},
	}
	for _, a := range add {
		if err := ix.Add(a.label, a.vec); err != nil {
			t.Fatalf("Add(%q, %v): %v", a.label, a.vec, err)
		}
	}
	if ix.Len() != len(add) || ix.Dim() != 2 {
		t.Errorf("Len(), Dim() = %d, %d; want %d, 2", ix.Len(), ix.Dim(), len(add))
	}
	tests := []struct {
		q    []float32
		k    int
		want []string
	}{
		{[]float32{1, 0}, 3, []string{"east", "east-too", "northeast"}}, // ties keep insertion order
		{[]float32{0, 1}, 2, []string{"north", "northeast"}},
		{[]float32{-3, 0}, 1, []string{"west"}},
		{[]float32{1, 0}, 100, []string{"east", "east-too", "northeast", "north", "zero", "west"}},
		{[]float32{1, 0}, 0, nil},
		{[]float32{1, 0, 0}, 3, nil},
	}
	for _, tt := range tests {
		got := ix.Search(tt.q, tt.k)
		var labels []string
		for _, n := range got {
			labels = append(labels, n.Label)
		}
		if !slices.Equal(labels, tt.want) {
			t.Errorf("Search(%v, %d) = %v, want %v", tt.q, tt.k, got, tt.want)
		}
	}
	if got := ix.Search([]float32{1, 1}, 1); math.Abs(got[0].Similarity-1) > 1e-6 {
		t.Errorf("Search([1 1], 1)[0].Similarity = %v, want 1", got[0].Similarity)
	}
	if err := ix.Add("bad", []float32{1}); !errors.Is(err, ErrDimension) {
		t.Errorf("Add(vector of length 1) = %v, want ErrDimension", err)
	}
	if err := ix.Add("nan", []float32{float32(math.NaN()), 0}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Add(NaN vector) = %v, want ErrInvalid", err)
	}
}

func TestCrossValidateVotes(t *testing.T) {
	t.Parallel()
	// Two well-separated clusters: every example is classified from the
	// other folds, and correctly.
	rng := rand.New(rand.NewPCG(1, 2))
	var vecs [][]float32
	var labels []string
	for i := range 40 {
		label, cx := "left", float32(-1)
		if i%2 == 1 {
			label, cx = "right", 1
		}
		vecs = append(vecs, []float32{cx + float32(rng.NormFloat64())*0.1, float32(rng.NormFloat64()) * 0.1})
		labels = append(labels, label)
	}
	folds, err := StratifiedFolds(labels, 5, rng)
	if err != nil {
		t.Fatal(err)
	}
	res, err := CrossValidateVotes(vecs, labels, folds, 5, DefaultVoteOptions())
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Label != labels[i] || r.Score < 0.99 {
			t.Errorf("CrossValidateVotes()[%d] = %q (%.3f), want %q with score about 1", i, r.Label, r.Score, labels[i])
		}
	}

	// A one-example label can only be missed: it has no neighbour in the
	// other folds.
	vecs = append(vecs, []float32{0, 1})
	labels = append(labels, "lonely")
	folds = append(folds, 0)
	res, err = CrossValidateVotes(vecs, labels, folds, 5, DefaultVoteOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got := res[len(res)-1].Label; got == "lonely" {
		t.Errorf("CrossValidateVotes() classified the only %q example as itself", got)
	}

	for _, bad := range []struct {
		vecs   [][]float32
		labels []string
		folds  []int
		want   error
	}{
		{nil, nil, nil, ErrInvalid},
		{vecs[:2], labels[:1], folds[:2], ErrInvalid},
		{[][]float32{{1, 0}, {1}}, []string{"a", "b"}, []int{0, 1}, ErrDimension},
	} {
		if _, err := CrossValidateVotes(bad.vecs, bad.labels, bad.folds, 3, VoteOptions{}); !errors.Is(err, bad.want) {
			t.Errorf("CrossValidateVotes(%d vectors, %d labels, %d folds) = %v, want %v", len(bad.vecs), len(bad.labels), len(bad.folds), err, bad.want)
		}
	}
}
