package models

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
)

func embedOne(t *testing.T, e Embedder, text string) []float32 {
	t.Helper()
	vecs, err := e.Embed(context.Background(), []string{text})
	if err != nil {
		t.Fatalf("Embed(%q): %v", text, err)
	}
	return vecs[0]
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func TestLocalEmbedderModelAndDim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dim       int
		wantDim   int
		wantModel string
	}{
		{0, 384, "local-hash-v1-384"},
		{-5, 384, "local-hash-v1-384"},
		{384, 384, "local-hash-v1-384"},
		{64, 64, "local-hash-v1-64"},
		{1024, 1024, "local-hash-v1-1024"},
	}
	for _, tt := range tests {
		e := NewLocalEmbedder(tt.dim)
		if got := e.Dim(); got != tt.wantDim {
			t.Errorf("NewLocalEmbedder(%d).Dim() = %d, want %d", tt.dim, got, tt.wantDim)
		}
		if got := e.Model(); got != tt.wantModel {
			t.Errorf("NewLocalEmbedder(%d).Model() = %q, want %q", tt.dim, got, tt.wantModel)
		}
		if got := len(embedOne(t, e, "stockout at release")); got != tt.wantDim {
			t.Errorf("len(NewLocalEmbedder(%d).Embed(...)[0]) = %d, want %d", tt.dim, got, tt.wantDim)
		}
	}
}

func TestLocalEmbedUnitOrZero(t *testing.T) {
	t.Parallel()
	e := NewLocalEmbedder(0)
	tests := []struct {
		text     string
		wantNorm float64
	}{
		{"", 0},
		{"  ,;: !! ", 0},
		{"the", 1},   // a stop word still gives text-boundary bigrams
		{"<num>", 1}, // a placeholder alone is a unigram
		{"carrier delay on shipment 1Z999AA10123456784", 1},
		{"ünïcödé wörds ünd €12", 1},
	}
	for _, tt := range tests {
		v := embedOne(t, e, tt.text)
		for i, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("Embed(%q)[%d] = %v, want finite", tt.text, i, x)
			}
		}
		if got := norm(v); math.Abs(got-tt.wantNorm) > 1e-5 {
			t.Errorf("norm(Embed(%q)) = %v, want %v", tt.text, got, tt.wantNorm)
		}
	}
}

func TestLocalEmbedDeterministic(t *testing.T) {
	t.Parallel()
	texts := benchTexts()
	a, err := NewLocalEmbedder(0).Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	// A second embedder, texts one at a time and concurrently: same vectors.
	e := NewLocalEmbedder(0)
	var wg sync.WaitGroup
	got := make([][]float32, len(texts))
	for i, text := range texts {
		wg.Go(func() {
			v, err := e.Embed(context.Background(), []string{text})
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = v[0]
		})
	}
	wg.Wait()
	for i := range texts {
		for j := range a[i] {
			if a[i][j] != got[i][j] {
				t.Fatalf("Embed(%q)[%d] = %v once and %v again, want equal", texts[i], j, a[i][j], got[i][j])
			}
		}
	}
}

func TestLocalEmbedSimilarity(t *testing.T) {
	t.Parallel()
	e := NewLocalEmbedder(0)
	sim := func(a, b string) float64 {
		s, err := Cosine(embedOne(t, e, a), embedOne(t, e, b))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// Texts that differ only in masked values embed identically.
	same := [][2]string{
		{"cancel order 732201349959", "Cancel order 00123842!"},
		{"refund of $12.50 for SKU-1234", "refund of 99,90 EUR for SKU-77"},
		{"timeout at 2024-05-01 12:30:00 for trace 550e8400-e29b-41d4-a716-446655440000", "timeout at 05/03/2024 09:15 for trace 123e4567-e89b-12d3-a456-426614174000"},
	}
	for _, p := range same {
		if got := sim(p[0], p[1]); got < 0.9999 {
			t.Errorf("cosine(%q, %q) = %v, want 1", p[0], p[1], got)
		}
	}
	// A paraphrase is closer than a different cause.
	closer := []struct{ a, near, far string }{
		{"payment declined card_declined", "card declined at payment", "carrier delay at hub"},
		{"i want to cancel my order", "help me cancelling purchase 3707955617", "where is my refund"},
		{"stockout at release", "stock out when releasing", "address validation failed"},
		{"cancelling", "canceling", "shipping"}, // typo-level variants share character n-grams
	}
	for _, c := range closer {
		near, far := sim(c.a, c.near), sim(c.a, c.far)
		if near <= far {
			t.Errorf("cosine(%q, %q) = %.3f, not above cosine(%q, %q) = %.3f", c.a, c.near, near, c.a, c.far, far)
		}
	}
}

func TestLocalEmbedCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := NewLocalEmbedder(0).Embed(ctx, []string{"a"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Embed(cancelled ctx) error = %v, want context.Canceled", err)
	}
}

func TestLocalEmbedEmptyBatch(t *testing.T) {
	t.Parallel()
	got, err := NewLocalEmbedder(0).Embed(context.Background(), nil)
	if err != nil || len(got) != 0 {
		t.Errorf("Embed(nil) = %d vectors, %v; want 0, nil", len(got), err)
	}
}

func TestCosine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b    []float32
		want    float64
		wantErr error
	}{
		{[]float32{1, 0}, []float32{1, 0}, 1, nil},
		{[]float32{1, 0}, []float32{0, 2}, 0, nil},
		{[]float32{1, 1}, []float32{-2, -2}, -1, nil},
		{[]float32{0, 0}, []float32{1, 0}, 0, nil},
		{[]float32{1}, []float32{1, 0}, 0, ErrDimension},
	}
	for _, tt := range tests {
		got, err := Cosine(tt.a, tt.b)
		if !errors.Is(err, tt.wantErr) || math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("Cosine(%v, %v) = %v, %v; want %v, %v", tt.a, tt.b, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestLocalEmbedderIsEmbedder keeps LocalEmbedder and OpenAIEmbedder
// assignable to the interface the triage package uses.
func TestLocalEmbedderIsEmbedder(t *testing.T) {
	t.Parallel()
	var _ Embedder = NewLocalEmbedder(0)
	var _ Embedder = (*OpenAIEmbedder)(nil)
}
