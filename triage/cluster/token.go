// Package cluster groups exception and log messages into root-cause
// clusters. It is pure: messages and their vectors in, groups out, with no
// database and no clock.
//
// A message is cut into tokens and every token that carries a digit (an
// id, a number, a SKU, an amount, an address) becomes the wildcard. Messages
// of one key (kind, code and outside system) and one length that agree on
// every token form a group. Positional variable detection then looks at one
// position at a time: where several groups agree everywhere but at that
// position and take enough distinct words there, the position is a variable
// and the groups merge. Two or three distinct words are not enough, so
// "carrier api timeout" and "carrier api paused" stay apart. Groups whose
// templates only differ in how many wildcards stand in a row merge across
// lengths. Last, embedding similarity merges paraphrases of one cause, but
// only mutual nearest neighbours whose centroids are close, once per run,
// so a chain of near neighbours never snowballs into one group.
package cluster

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Wildcard stands for a variable token in a template.
const Wildcard = "<*>"

// maxTokens caps how many tokens of a message are compared; the tail of a
// long stack trace adds length, not meaning.
const maxTokens = 48

// Tokens cuts text into the tokens templates are made of. It splits at
// white space and at the punctuation that glues a key to its value
// ("size=12", "(null)", "a,b"), drops punctuation at a token's edges and
// replaces every token holding a digit with Wildcard, so ids, numbers, SKUs,
// amounts, dates and addresses never tell two messages apart. Case is kept
// out of the comparison: tokens are lower-cased.
func Tokens(text string) []string {
	return appendTokens(nil, text)
}

func appendTokens(dst []string, text string) []string {
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		t := normalise(text[start:end])
		start = -1
		if t == "" || len(dst) >= maxTokens {
			return
		}
		if n := len(dst); n > 0 && dst[n-1] == Wildcard && isUnit(t) {
			// "5.2 KB", "30 s": the unit belongs to the amount.
			return
		}
		dst = append(dst, t)
	}
	for i := 0; i < len(text); {
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		switch {
		case unicode.IsSpace(r) || isGlue(r):
			flush(i)
		case r == '.' && i+1 < len(text) && text[i+1] == '.':
			// A run of dots is a leader ("depth.......0"), not part of
			// a word.
			flush(i)
			for i+1 < len(text) && text[i+1] == '.' {
				i++
			}
		case start < 0:
			start = i
		}
		i += size
	}
	flush(len(text))
	return dst
}

// isGlue reports punctuation that separates tokens even without a space.
func isGlue(r rune) bool {
	switch r {
	case ';', '(', ')', '[', ']', '{', '}', '"', '\'', '`', '<', '>', '|':
		return true
	}
	return false
}

// normalise trims edge punctuation, lower-cases, and masks a token holding
// a digit. A token of punctuation alone is dropped.
func normalise(t string) string {
	if t == Wildcard {
		return t
	}
	trimmed := strings.TrimFunc(t, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '$' && r != '/'
	})
	if trimmed == "" {
		// Punctuation alone ("-", "****") is kept: it is part of the
		// message's shape.
		return t
	}
	if looksVariable(trimmed) || isPath(trimmed) || isDateWord(strings.ToLower(trimmed)) {
		return Wildcard
	}
	return strings.ToLower(trimmed)
}

// isPath reports whether a token is a file path or a URL ("/var/log/x",
// "a/b/c"): a slash with a letter or digit on its far side. Paths name
// where, not what, so they are variables.
func isPath(t string) bool {
	i := strings.IndexByte(t, '/')
	return i >= 0 && strings.IndexFunc(t[i:], func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0
}

// looksVariable reports whether a token is an id, a number, an amount or
// the like: it holds a digit and starts with one, holds two or more, or
// mixes digits with punctuation. A word ending in one digit ("eth0",
// "ipv4") is a name, not a value.
func looksVariable(t string) bool {
	digits, other := 0, false
	for _, r := range t {
		switch {
		case unicode.IsDigit(r):
			digits++
		case !unicode.IsLetter(r):
			other = true
		}
	}
	if digits == 0 {
		return false
	}
	first, _ := utf8.DecodeRuneInString(t)
	return digits >= 2 || other || unicode.IsDigit(first)
}

// isUnit reports a unit of size or time that follows a number.
func isUnit(t string) bool {
	switch t {
	case "b", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "bytes", "ms", "us", "ns", "s", "sec", "secs", "seconds", "min", "mins", "minutes", "h", "hours", "%":
		return true
	}
	return false
}

// isDateWord reports the names of weekdays and months, which are parts of
// dates written out ("Thu Aug 04 2005").
func isDateWord(t string) bool {
	switch t {
	case "mon", "tue", "wed", "thu", "fri", "sat", "sun",
		"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
		"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
		"january", "february", "march", "april", "june", "july", "august", "september", "october", "november", "december":
		return true
	}
	return false
}
