package models

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
)

// DefaultLocalDim is the vector length of NewLocalEmbedder(0).
const DefaultLocalDim = 384

// localConfig holds the local embedder's feature weights. They are fixed
// per model name: changing any of them changes the vectors, so it needs a
// new version in Model().
type localConfig struct {
	version               string
	unigram, bigram, char float64 // group weights; each group is normalised first
	minN, maxN            int     // character n-gram lengths, counting boundary markers
}

// defaultLocalConfig was chosen by 5-fold cross-validation on the training
// part (60%) of the Bitext intents only; bump version on any change.
func defaultLocalConfig() localConfig {
	return localConfig{version: "v1", unigram: 0.7, bigram: 0.8, char: 1, minN: 3, maxN: 5}
}

// LocalEmbedder is the deterministic embedder used when no embedding server
// is configured. It masks the text (see Mask), extracts word unigrams and
// bigrams and character 3–5-grams within words, weights them by 1+ln(tf),
// hashes them with signs into Dim() buckets and L2-normalises the result.
// It never touches the network and is safe for concurrent use.
type LocalEmbedder struct {
	dim     int
	cfg     localConfig
	scratch sync.Pool // *localScratch
}

// localScratch is the per-call working memory, pooled so embedding a text
// allocates no more than its output vector (and a lower-cased copy when the
// text has capitals).
type localScratch struct {
	m     masker
	feats []uint64
}

// NewLocalEmbedder returns a local embedder producing vectors of length dim;
// dim <= 0 means DefaultLocalDim.
func NewLocalEmbedder(dim int) *LocalEmbedder {
	return newLocalEmbedder(dim, defaultLocalConfig())
}

func newLocalEmbedder(dim int, cfg localConfig) *LocalEmbedder {
	if dim <= 0 {
		dim = DefaultLocalDim
	}
	e := &LocalEmbedder{dim: dim, cfg: cfg}
	e.scratch.New = func() any { return &localScratch{feats: make([]uint64, 0, 256)} }
	return e
}

// Model returns "local-hash-<version>-<dim>".
func (e *LocalEmbedder) Model() string {
	return fmt.Sprintf("local-hash-%s-%d", e.cfg.version, e.dim)
}

// Dim returns the vector length.
func (e *LocalEmbedder) Dim() int { return e.dim }

// Embed returns one unit-length vector per text (all zeros for a text with
// no words). It only fails when ctx is cancelled.
func (e *LocalEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	backing := make([]float32, len(texts)*e.dim)
	out := make([][]float32, len(texts))
	s := e.scratch.Get().(*localScratch)
	defer func() {
		clear(s.m.toks) // drop references to the texts before pooling
		e.scratch.Put(s)
	}()
	for i, text := range texts {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("local embed of %d texts: %w", len(texts), err)
			}
		}
		v := backing[i*e.dim : (i+1)*e.dim : (i+1)*e.dim]
		e.embedInto(s, text, v)
		out[i] = v
	}
	return out, nil
}

// Feature groups live in the low two bits of a feature hash, so one sort
// brings equal features together and still says which weight applies.
const (
	groupUnigram = iota
	groupBigram
	groupChar
	groupMask = 3
)

// Seeds keep the groups' hash spaces apart.
const (
	fnvOffset   = 14695981039346656037
	fnvPrime    = 1099511628211
	seedUnigram = fnvOffset ^ 0x9e3779b97f4a7c15
	seedBigram  = fnvOffset ^ 0xc2b2ae3d27d4eb4f
	seedChar    = fnvOffset ^ 0x165667b19e3779f9
	boundaryBeg = 0x02 // marks the start of a word or text
	boundaryEnd = 0x03 // marks the end of a word or text
	pairSep     = 0x1f // separates the two words of a bigram
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvByte(h uint64, b byte) uint64 {
	h ^= uint64(b)
	return h * fnvPrime
}

// mix is a 64-bit finaliser: FNV-1a leaves its low bits weakly mixed and
// they choose the group, bucket and sign.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func withGroup(h uint64, g uint64) uint64 { return mix(h)&^groupMask | g }

// embedInto writes the embedding of text into v, which must be zeroed.
func (e *LocalEmbedder) embedInto(s *localScratch, text string, v []float32) {
	s.m.run(text)
	feats := e.features(s.feats[:0], s.m.toks)
	s.feats = feats
	if len(feats) == 0 {
		return
	}
	slices.Sort(feats)

	// Two passes over the runs of equal features: the first finds each
	// group's norm so every group contributes its weight whatever the
	// text's length; the second adds the features into the buckets.
	var sumSq [3]float64
	forEachRun(feats, func(h uint64, w float64) { sumSq[h&groupMask] += w * w })
	weights := [3]float64{e.cfg.unigram, e.cfg.bigram, e.cfg.char}
	var scale [3]float64
	for g := range scale {
		if sumSq[g] > 0 {
			scale[g] = weights[g] / math.Sqrt(sumSq[g])
		}
	}
	dim := uint64(len(v))
	forEachRun(feats, func(h uint64, w float64) {
		x := float32(w * scale[h&groupMask])
		if x == 0 {
			return
		}
		bucket := ((h >> 2 & 0xffffffff) * dim) >> 32
		if h>>63 == 1 {
			x = -x
		}
		v[bucket] += x
	})
	normalize(v)
}

// forEachRun calls fn once per distinct feature in sorted feats with its
// term weight.
func forEachRun(feats []uint64, fn func(h uint64, w float64)) {
	for i := 0; i < len(feats); {
		j := i + 1
		for j < len(feats) && feats[j] == feats[i] {
			j++
		}
		tf := float64(j - i)
		if tf > 1 {
			tf = 1 + math.Log(tf)
		}
		fn(feats[i], tf)
		i = j
	}
}

// features appends the hashed features of toks to dst: unigrams and
// character n-grams of every word but stop words, and bigrams of all
// tokens including the text's start and end, where stop words still carry
// word order ("cancel order" against "order cancelled").
func (e *LocalEmbedder) features(dst []uint64, toks []token) []uint64 {
	cfg := &e.cfg
	for i, t := range toks {
		stop := t.kind == tokWord && isStopWord(t.text)
		if !stop {
			dst = append(dst, withGroup(fnvString(seedUnigram, t.text), groupUnigram))
			if t.kind == tokWord {
				dst = appendCharGrams(dst, t.text, cfg.minN, cfg.maxN)
			}
		}
		prev := ""
		if i > 0 {
			prev = toks[i-1].text
		}
		dst = append(dst, withGroup(bigramHash(prev, i == 0, t.text, false), groupBigram))
	}
	if len(toks) > 0 {
		dst = append(dst, withGroup(bigramHash(toks[len(toks)-1].text, false, "", true), groupBigram))
	}
	return dst
}

// bigramHash hashes the pair (a, b); begin and end stand for the text's
// boundaries in place of a or b.
func bigramHash(a string, begin bool, b string, end bool) uint64 {
	h := uint64(seedBigram)
	if begin {
		h = fnvByte(h, boundaryBeg)
	} else {
		h = fnvString(h, a)
	}
	h = fnvByte(h, pairSep)
	if end {
		return fnvByte(h, boundaryEnd)
	}
	return fnvString(h, b)
}

// appendCharGrams appends the minN..maxN-byte n-grams of word wrapped in
// boundary markers, so "ok" gives "\x02ok" and "ok\x03" as well as the whole.
func appendCharGrams(dst []uint64, word string, minN, maxN int) []uint64 {
	n := len(word) + 2
	at := func(j int) byte {
		switch j {
		case 0:
			return boundaryBeg
		case n - 1:
			return boundaryEnd
		}
		return word[j-1]
	}
	if n < minN {
		minN = n
	}
	for i := 0; i+minN <= n; i++ {
		h := uint64(seedChar)
		for j := i; j < n && j-i < maxN; j++ {
			h = fnvByte(h, at(j))
			if j-i+1 >= minN {
				dst = append(dst, withGroup(h, groupChar))
			}
		}
	}
	return dst
}

// isStopWord lists function words and the fillers of a request ("I need
// help to", "how can I") that say nothing about what the text is about.
// Dropping them from unigrams and character n-grams was worth 6 points of
// macro-F1 in cross-validation, because a stateless embedder has no
// document frequencies to discount them with.
func isStopWord(w string) bool {
	switch w {
	case "a", "an", "the", "i", "im", "me", "my", "we", "our", "you", "your", "u", "ur",
		"to", "of", "for", "in", "on", "at", "by", "with", "from", "and", "or",
		"is", "am", "are", "be", "was", "it", "its", "this", "that", "please", "pls",
		"help", "need", "needs", "want", "wanna", "would", "could", "can", "will", "should",
		"like", "assistance", "assist", "how", "do", "does", "did", "dont", "know", "have",
		"has", "got", "gotta", "possible", "trying", "try", "tell", "show", "some", "any",
		"there", "what", "where", "when", "which", "if", "let", "lets", "way", "able":
		return true
	}
	return false
}
