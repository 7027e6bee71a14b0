package models

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Placeholders that Mask substitutes for variable tokens. They are what two
// exceptions that differ only in an order number or an amount have in common.
const (
	PlaceholderID     = "<id>"
	PlaceholderOrder  = "<order>"
	PlaceholderSKU    = "<sku>"
	PlaceholderAmount = "<amount>"
	PlaceholderDate   = "<date>"
	PlaceholderTime   = "<time>"
	PlaceholderEmail  = "<email>"
	PlaceholderNum    = "<num>"
)

// tokKind says how far a token has been resolved.
type tokKind uint8

const (
	tokWord        tokKind = iota // kept literally
	tokPlaceholder                // final placeholder
	tokNum                        // plain number; the context pass decides what it becomes
	tokCurrency                   // currency code, word or symbol; merges with an adjacent number
	tokRef                        // id or SKU-like code that an order context turns into <order>
)

type token struct {
	text string
	kind tokKind
}

// masker turns text into masked tokens. It keeps its token slice between
// calls so the local embedder can reuse it without allocating.
type masker struct {
	toks []token
}

// Mask lower-cases text, splits it into words and replaces variable tokens
// with typed placeholders: UUIDs and long hex or alphanumeric ids become
// <id>, order numbers ("order 732201349959", "#A-10023", "ORD-123") <order>,
// SKUs ("SKU-1234", dashed codes with digits) <sku>, money ("$12.50",
// "12,50 EUR", "BRL 99.9") <amount>, dates and times <date> and <time>,
// e-mail addresses <email>, and any other number <num>.
//
// Words survive, including error codes: "card_declined", "do_not_honor" and
// "E1234" are kept (lower-cased), and a number of at most four digits right
// after "error", "code", "status" or "http" is kept because it names the
// failure ("http 503"). Punctuation is dropped, apostrophes are removed
// ("don't" becomes "dont") and the tokens are joined by single spaces.
// Mask is idempotent: masking masked text changes nothing.
func Mask(text string) string {
	var m masker
	m.run(text)
	n := 0
	for _, t := range m.toks {
		n += len(t.text) + 1
	}
	var b strings.Builder
	b.Grow(n)
	for i, t := range m.toks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	return b.String()
}

// run masks text into m.toks.
func (m *masker) run(text string) {
	m.toks = m.toks[:0]
	lower := strings.ToLower(text)
	start := -1
	for i := 0; i < len(lower); {
		r, size := rune(lower[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(lower[i:])
		}
		if isSpaceRune(r) {
			if start >= 0 {
				m.chunk(lower[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
		i += size
	}
	if start >= 0 {
		m.chunk(lower[start:])
	}
	m.resolve()
}

func isSpaceRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
	}
	return unicode.IsSpace(r)
}

// chunk masks one whitespace-separated chunk.
func (m *masker) chunk(c string) {
	if p, ok := placeholderOf(c); ok {
		m.emit(p, tokPlaceholder)
		return
	}
	c = trimEdges(c)
	if c == "" || m.whole(c) {
		return
	}
	if !hasHardSeparator(c) {
		m.pieces(c)
		return
	}
	// "price:12.50" or "(ord-1,sku-2)": classify each part on its own.
	start := 0
	for i := 0; i <= len(c); i++ {
		if i < len(c) && !isHardSeparator(c[i]) {
			continue
		}
		part := c[start:i]
		start = i + 1
		if p, ok := placeholderOf(part); ok {
			m.emit(p, tokPlaceholder)
			continue
		}
		part = trimEdges(part)
		if part != "" && !m.whole(part) {
			m.pieces(part)
		}
	}
}

func (m *masker) emit(s string, k tokKind) {
	m.toks = append(m.toks, token{text: s, kind: k})
}

// emitWord adds a literal word, marking currency words so an adjacent number
// becomes an amount.
func (m *masker) emitWord(s string) {
	if isCurrencyWord(s) {
		m.emit(s, tokCurrency)
		return
	}
	m.emit(s, tokWord)
}

// placeholderOf reports whether c is one of Mask's placeholders, so masking
// masked text is a no-op.
func placeholderOf(c string) (string, bool) {
	switch c {
	case PlaceholderID, PlaceholderOrder, PlaceholderSKU, PlaceholderAmount,
		PlaceholderDate, PlaceholderTime, PlaceholderEmail, PlaceholderNum:
		return c, true
	}
	return "", false
}

// trimEdges drops punctuation around a chunk but keeps the characters that
// carry meaning at an edge: a currency symbol, '#', a sign, a percent sign.
func trimEdges(c string) string {
	for c != "" {
		r, size := utf8.DecodeRuneInString(c)
		if isAlnumRune(r) || r == '$' || r == '#' || r == '+' || r == '-' || isCurrencySymbol(r) {
			break
		}
		c = c[size:]
	}
	for c != "" {
		r, size := utf8.DecodeLastRuneInString(c)
		if isAlnumRune(r) || r == '%' || r == '$' || isCurrencySymbol(r) {
			break
		}
		c = c[:len(c)-size]
	}
	return c
}

// isHardSeparator reports ASCII punctuation that never belongs to a pattern
// Mask recognises, so a chunk can be split there and its parts retried.
func isHardSeparator(b byte) bool {
	switch b {
	case ',', ';', ':', '/', '(', ')', '[', ']', '{', '}', '"', '!', '?', '=', '|', '<', '>',
		'*', '+', '&', '~', '`', '^', '\\':
		return true
	}
	return false
}

func hasHardSeparator(c string) bool {
	for i := 0; i < len(c); i++ {
		if isHardSeparator(c[i]) {
			return true
		}
	}
	return false
}

// pieces splits c into words at anything but letters, digits and '_',
// dropping apostrophes inside words and joining "e-mail" into "email".
func (m *masker) pieces(c string) {
	for i := 0; i < len(c); {
		r, size := utf8.DecodeRuneInString(c[i:])
		if !isWordRune(r) {
			i += size
			continue
		}
		start, apostrophe := i, false
		for i < len(c) {
			r, size = utf8.DecodeRuneInString(c[i:])
			if isWordRune(r) {
				i += size
				continue
			}
			if (r == '\'' || r == '’') && i+size < len(c) {
				if next, _ := utf8.DecodeRuneInString(c[i+size:]); isWordRune(next) {
					apostrophe = true
					i += size
					continue
				}
			}
			break
		}
		w := c[start:i]
		if i-start == 1 && isLower(c[start]) && i+1 < len(c) && c[i] == '-' && isLower(c[i+1]) {
			// A lone letter before a hyphen is a prefix: "e-mail", "e-commerce".
			j := i + 1
			for j < len(c) && isLower(c[j]) {
				j++
			}
			w = c[start:i] + c[i+1:j]
			i = j
		}
		if apostrophe {
			w = dropApostrophes(w)
		}
		// Edge underscores would be trimmed when masking again.
		if w = strings.Trim(w, "_"); w == "" {
			continue
		}
		if !m.whole(w) {
			m.emitWord(w)
		}
	}
}

func dropApostrophes(w string) string {
	var b strings.Builder
	b.Grow(len(w))
	for _, r := range w {
		if r != '\'' && r != '’' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isWordRune(r rune) bool { return r == '_' || isAlnumRune(r) }

// whole classifies a chunk without separators it can split at. It emits the
// chunk's tokens and reports true when the chunk matched a pattern.
func (m *masker) whole(c string) bool {
	if strings.IndexAny(c, "0123456789@") < 0 {
		// Every pattern but a currency word needs a digit or an '@'; most
		// chunks are plain words and stop here.
		if isCurrencyWord(c) {
			m.emit(c, tokCurrency)
			return true
		}
		return false
	}
	switch {
	case isEmail(c):
		m.emit(PlaceholderEmail, tokPlaceholder)
	case isUUID(c):
		m.emit(PlaceholderID, tokRef)
	case m.dateTime(c):
	case isTime(c):
		m.emit(PlaceholderTime, tokPlaceholder)
	case isMoney(c):
		m.emit(PlaceholderAmount, tokPlaceholder)
	case isNumber(c):
		m.emit(c, tokNum)
	case isCurrencyWord(c):
		m.emit(c, tokCurrency)
	case c[0] == '#' && isCode(c[1:], true):
		m.emit(PlaceholderOrder, tokRef)
	case hasCodePrefix(c, "order") || hasCodePrefix(c, "ord") || hasCodePrefix(c, "po"):
		m.emit(PlaceholderOrder, tokPlaceholder)
	case hasCodePrefix(c, "sku"):
		m.emit(PlaceholderSKU, tokPlaceholder)
	case strings.IndexByte(c, '-') > 0 && isCode(c, true) && countDigits(c) >= 2 && hasLetter(c):
		m.emit(PlaceholderSKU, tokRef)
	default:
		return m.alnum(c)
	}
	return true
}

// alnum handles runs of ASCII letters and digits with both in them.
func (m *masker) alnum(c string) bool {
	digits, letters, runs := 0, 0, 1
	for i := 0; i < len(c); i++ {
		switch {
		case isDigit(c[i]):
			digits++
		case isLower(c[i]):
			letters++
		default:
			return false
		}
		if i > 0 && isDigit(c[i]) != isDigit(c[i-1]) {
			runs++
		}
	}
	if digits == 0 || letters == 0 {
		return false
	}
	split := strings.IndexFunc(c, func(r rune) bool { return isDigit(byte(r)) != isDigit(c[0]) })
	switch {
	case runs == 2 && !isDigit(c[0]) && letters >= 2 && digits >= 3:
		// A word glued to a number: "purchase113542617735902", "of350".
		m.emitWord(c[:split])
		m.emit(c[split:], tokNum)
	case runs == 2 && isDigit(c[0]):
		// "3rd", "3pm", "12eur", "24h", "3days"; short others are codes
		// such as "3ds", "2fa", "4xx", "3pl".
		unit := c[split:]
		switch {
		case unit == "st" || unit == "nd" || unit == "rd" || unit == "th":
			m.emit(PlaceholderNum, tokPlaceholder)
		case unit == "am" || unit == "pm":
			m.emit(PlaceholderTime, tokPlaceholder)
		case isCurrencyWord(unit):
			m.emit(PlaceholderAmount, tokPlaceholder)
		case len(unit) >= 4 || isUnit(unit):
			m.emit(c[:split], tokNum)
			m.emitWord(unit)
		default:
			m.emit(c, tokWord)
		}
	case len(c) >= 8 && isHexString(c):
		m.emit(PlaceholderID, tokRef)
	case len(c) >= 10 && digits >= 4:
		m.emit(PlaceholderID, tokRef)
	default:
		// An error code such as "e1234" or "3ds" is a word.
		m.emit(c, tokWord)
	}
	return true
}

// resolve turns numbers, codes and currency words into placeholders using
// their neighbours, compacting m.toks in place.
func (m *masker) resolve() {
	out := m.toks[:0]
	for i := 0; i < len(m.toks); i++ {
		t := m.toks[i]
		switch t.kind {
		case tokNum:
			n := len(out)
			switch {
			case i+1 < len(m.toks) && m.toks[i+1].kind == tokCurrency:
				out = append(out, token{PlaceholderAmount, tokPlaceholder})
				i++
			case n > 0 && out[n-1].kind == tokCurrency:
				out[n-1] = token{PlaceholderAmount, tokPlaceholder}
			case orderContext(out):
				out = append(out, token{PlaceholderOrder, tokPlaceholder})
			case n > 0 && out[n-1].text == "sku":
				out = append(out, token{PlaceholderSKU, tokPlaceholder})
			case n > 0 && isCodeWord(out[n-1].text) && len(t.text) <= 4 && isDigits(t.text):
				out = append(out, token{t.text, tokWord})
			default:
				out = append(out, token{PlaceholderNum, tokPlaceholder})
			}
		case tokRef:
			switch {
			case orderContext(out):
				t.text = PlaceholderOrder
			case len(out) > 0 && out[len(out)-1].text == "sku":
				t.text = PlaceholderSKU
			}
			out = append(out, token{t.text, tokPlaceholder})
		default:
			out = append(out, t)
		}
	}
	for i := range out {
		if out[i].kind == tokCurrency {
			out[i].kind = tokWord
		}
	}
	m.toks = out
}
