package triage

import (
	"context"
	"fmt"
	"math"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"
)

// CauseUnknown is the cause of an exception unlike every known example:
// nothing in the library is near it, so no fix is recommended and a person
// classifies it.
const CauseUnknown = "unknown"

// Out-of-distribution detection. The vote's calibrated confidence says how
// sure the neighbours are among themselves, not whether the exception is
// like them: a message "x" is embedded with its kind and code, which alone
// match every example of the kind. So the confidence a person and the
// policy see is scaled by two factors:
//
//   - nearness: the nearest example's similarity, from 0 at farSimilarity
//     to 1 at the service's MinSimilarity (where automatic application
//     starts);
//   - support: how many of the message's content words the library knows,
//     from 0 (none) to 1 (knownWordsFull or more).
//
// With nearness or support 0 the cause is unknown.
const (
	farSimilarity  = 0.25
	knownWordsFull = 3
)

// outOfDistribution scales c's confidence by the nearness of its nearest
// example and the support of the message's words, and makes the cause
// unknown when either is nil. It returns what it found, for the case's
// notes.
func (s *Service) outOfDistribution(c *Classification, message string) string {
	if c.Cause == "" {
		return ""
	}
	near := math.Max(0, math.Min(1, (c.TopSimilarity-farSimilarity)/(s.minSim-farSimilarity)))
	s.mu.RLock()
	vocab := s.vocab
	s.mu.RUnlock()
	support, words, known := 1.0, 0, 0
	if len(vocab) > 0 {
		for _, w := range contentWords(message) {
			words++
			if vocab[w] {
				known++
			}
		}
		support = math.Min(1, float64(known)/knownWordsFull)
	}
	c.Nearness, c.Support = round3(near), round3(support)
	c.Confidence = round3(c.Confidence * near * support)
	if near == 0 || support == 0 {
		c.Cause = CauseUnknown
		return fmt.Sprintf("unknown cause: nearest example %.2f similar (%.2f or less is nothing near), %d of the message's %d words known to the library",
			c.TopSimilarity, farSimilarity, known, words)
	}
	return ""
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// stopWords carry no cause.
var stopWords = map[string]bool{
	"the": true, "and": true, "for": true, "with": true, "from": true, "this": true, "that": true, "was": true,
	"are": true, "has": true, "have": true, "not": true, "but": true, "all": true, "any": true, "can": true,
	"its": true, "our": true, "you": true, "your": true, "into": true, "over": true, "after": true, "been": true,
	"will": true, "were": true, "they": true, "their": true, "there": true, "which": true, "when": true, "what": true,
	"order": true, "orders": true,
}

// contentWords are the message's lower-case letter words of three letters
// or more, stop words left out, each once, at most 200.
func contentWords(message string) []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(message), func(r rune) bool { return !unicode.IsLetter(r) || r > unicode.MaxLatin1 }) {
		if len(w) < 3 || stopWords[w] || seen[w] {
			continue
		}
		seen[w] = true
		out = append(out, w)
		if len(out) == 200 {
			break
		}
	}
	return out
}

// loadVocabulary reads the content words of the library: every example's
// code and message and every cause's title and description.
func (s *Service) loadVocabulary(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, `SELECT code || ' ' || message FROM cause_examples
		UNION ALL SELECT title || ' ' || description FROM causes`)
	if err != nil {
		return fmt.Errorf("library vocabulary: %w", err)
	}
	texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("library vocabulary: %w", err)
	}
	vocab := map[string]bool{}
	for _, t := range texts {
		for _, w := range contentWords(t) {
			vocab[w] = true
		}
	}
	s.mu.Lock()
	s.vocab = vocab
	s.mu.Unlock()
	return nil
}
