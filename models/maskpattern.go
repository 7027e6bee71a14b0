package models

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the lexical patterns and word lists Mask recognises.

func isCurrencySymbol(r rune) bool { return r == '€' || r == '£' || r == '¥' }

func isAlnumRune(r rune) bool {
	if r < utf8.RuneSelf {
		return isDigit(byte(r)) || isLower(byte(r)) || (r >= 'A' && r <= 'Z')
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
func isLower(b byte) bool { return b >= 'a' && b <= 'z' }
func isHex(b byte) bool   { return isDigit(b) || (b >= 'a' && b <= 'f') }

// orderContext reports whether the next token follows "order", "purchase",
// "order number" or "order no".
func orderContext(out []token) bool {
	n := len(out)
	if n == 0 || out[n-1].kind != tokWord {
		return false
	}
	if isOrderWord(out[n-1].text) {
		return true
	}
	switch out[n-1].text {
	case "number", "no", "nr", "num", "id":
		return n >= 2 && out[n-2].kind == tokWord && isOrderWord(out[n-2].text)
	}
	return false
}

func isOrderWord(s string) bool {
	switch s {
	case "order", "orders", "purchase", "purchases", "ord", "po":
		return true
	}
	return false
}

// isCodeWord reports words after which a short number names a failure.
func isCodeWord(s string) bool {
	switch s {
	case "error", "err", "errno", "code", "status", "http":
		return true
	}
	return false
}

// isUnit lists short units written straight after a number ("24h", "5kg").
func isUnit(s string) bool {
	switch s {
	case "h", "hr", "hrs", "d", "m", "min", "s", "sec", "ms", "wk", "kg", "g", "lb", "lbs",
		"km", "mi", "cm", "mm", "x", "pc", "pcs", "gb", "mb", "kb":
		return true
	}
	return false
}

func isCurrencyWord(s string) bool {
	switch s {
	case "$", "€", "£", "¥", "r$", "us$", "usd", "eur", "brl", "gbp", "cad", "aud", "jpy", "inr",
		"mxn", "chf", "cny", "dollar", "dollars", "euro", "euros", "reais", "bucks":
		return true
	}
	return false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func isHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return s != ""
}

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
		}
	}
	return n
}

func hasLetter(s string) bool {
	for i := 0; i < len(s); i++ {
		if isLower(s[i]) {
			return true
		}
	}
	return false
}

// isCode reports a run of ASCII letters, digits, '-' and '_' that contains a
// digit when needDigit is set.
func isCode(s string, needDigit bool) bool {
	if s == "" {
		return false
	}
	digit := false
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case isDigit(b):
			digit = true
		case isLower(b), b == '-', b == '_':
		default:
			return false
		}
	}
	return digit || !needDigit
}

// hasCodePrefix matches prefix followed by a digit ("ord123", "po7") or by
// '-', '_' or '#' and a code with a digit ("ord-a10023", "sku_99").
func hasCodePrefix(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || rest == "" {
		return false
	}
	if isDigit(rest[0]) {
		return isCode(rest, true)
	}
	if rest[0] == '-' || rest[0] == '_' || rest[0] == '#' {
		return isCode(rest[1:], true)
	}
	return false
}

func isEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 {
		return false
	}
	dot := strings.LastIndexByte(s, '.')
	return dot > at+1 && dot < len(s)-1
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return false
			}
		} else if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// digitsAt returns the end of a run of between lo and hi digits at s[i:].
func digitsAt(s string, i, lo, hi int) (int, bool) {
	j := i
	for j < len(s) && j-i < hi && isDigit(s[j]) {
		j++
	}
	return j, j-i >= lo
}

// dateTime emits <date> (and <time> for an ISO timestamp) when c is a date:
// 2024-05-01, 2024-05-01T12:30:00Z, 05/01/2024, 5/1/24, 01.05.2024, 01-05-2024.
func (m *masker) dateTime(c string) bool {
	for _, sep := range [...]byte{'-', '/', '.'} {
		end, ok := datePattern(c, sep)
		if !ok {
			continue
		}
		rest := c[end:]
		if rest != "" && (rest[0] == 't' || rest[0] == '_') && timePrefix(rest[1:]) > 0 {
			m.emit(PlaceholderDate, tokPlaceholder)
			m.emit(PlaceholderTime, tokPlaceholder)
			return true
		}
		if rest == "" {
			m.emit(PlaceholderDate, tokPlaceholder)
			return true
		}
	}
	return false
}

// datePattern matches three digit groups joined by sep at the start of s,
// either year first (yyyy-m-d) or year last (d-m-yyyy, or d/m/yy with '/').
func datePattern(s string, sep byte) (int, bool) {
	a, ok := digitsAt(s, 0, 1, 4)
	if !ok || a >= len(s) || s[a] != sep {
		return 0, false
	}
	b, ok := digitsAt(s, a+1, 1, 2)
	if !ok || b >= len(s) || s[b] != sep {
		return 0, false
	}
	if a == 4 {
		c, ok := digitsAt(s, b+1, 1, 2)
		return c, ok
	}
	if a > 2 {
		return 0, false
	}
	c, ok := digitsAt(s, b+1, 2, 4)
	if !ok || (c-b-1 != 4 && !(sep == '/' && c-b-1 == 2)) {
		return 0, false
	}
	return c, true
}

// timePrefix returns the length of a clock time at the start of s
// (12:30, 12:30:00, 12:30:00.123), or 0.
func timePrefix(s string) int {
	h, ok := digitsAt(s, 0, 1, 2)
	if !ok || h >= len(s) || s[h] != ':' {
		return 0
	}
	mi, ok := digitsAt(s, h+1, 2, 2)
	if !ok {
		return 0
	}
	if mi < len(s) && s[mi] == ':' {
		if sec, ok := digitsAt(s, mi+1, 2, 2); ok {
			mi = sec
			if mi < len(s) && s[mi] == '.' {
				if frac, ok := digitsAt(s, mi+1, 1, 9); ok {
					mi = frac
				}
			}
		}
	}
	return mi
}

// isTime matches a clock time with an optional am/pm or zone suffix
// (12:30, 12:30:00z, 12:30:00+02:00, 3:30pm).
func isTime(s string) bool {
	n := timePrefix(s)
	if n == 0 {
		return false
	}
	switch rest := s[n:]; {
	case rest == "", rest == "am", rest == "pm", rest == "z":
		return true
	case rest[0] == '+' || rest[0] == '-':
		return timePrefix(rest[1:]) == len(rest)-1 || (len(rest) > 1 && isDigits(rest[1:]))
	}
	return false
}

// isNumber matches an optionally signed number with ',' or '.' separators
// between digit groups and an optional trailing '%'.
func isNumber(s string) bool {
	s = strings.TrimSuffix(s, "%")
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" || !isDigit(s[0]) || !isDigit(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		b := s[i]
		if isDigit(b) {
			continue
		}
		if (b == ',' || b == '.') && isDigit(s[i-1]) {
			continue
		}
		return false
	}
	return true
}

// isMoney matches a number with a currency symbol or code stuck to it:
// "$12.50", "-$5", "r$99,90", "12,50€", "12eur".
func isMoney(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	for _, sym := range [...]string{"us$", "r$", "$", "€", "£", "¥"} {
		if rest, ok := strings.CutPrefix(s, sym); ok {
			return isNumber(rest) && !strings.HasSuffix(rest, "%")
		}
	}
	for _, sym := range [...]string{"$", "€", "£", "¥", "usd", "eur", "brl", "gbp"} {
		if rest, ok := strings.CutSuffix(s, sym); ok {
			return isNumber(rest) && !strings.HasSuffix(rest, "%")
		}
	}
	return false
}
