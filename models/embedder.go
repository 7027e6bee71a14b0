package models

import (
	"context"
	"fmt"
	"math"
)

// Embedder turns texts into fixed-length vectors whose cosine similarity
// says how alike two texts are. Every stored vector is tagged with Model(),
// so vectors of different models are never compared.
type Embedder interface {
	// Embed returns one vector of length Dim() per text, in order.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	// Model names the model and its configuration, e.g. "local-hash-v1-384".
	Model() string
	// Dim is the length of every vector Embed returns.
	Dim() int
}

// Cosine returns the cosine similarity of a and b, 0 when either is all
// zeros. It returns an error when the lengths differ.
func Cosine(a, b []float32) (float64, error) {
	if len(a) != len(b) {
		return 0, fmt.Errorf("cosine of vectors of length %d and %d: %w", len(a), len(b), ErrDimension)
	}
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0, nil
	}
	return dot / math.Sqrt(na*nb), nil
}

// normalize scales v to unit L2 norm in place; an all-zero v stays zero.
func normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
}
