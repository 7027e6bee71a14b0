package web

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Text rules. Every string of a request body (keys and values, at any depth,
// also inside free-form payloads), every path parameter and every query
// parameter must be valid UTF-8 and free of characters that a person cannot
// see or that PostgreSQL cannot store. Nothing is ever rewritten: a string
// that breaks a rule is refused with a 422 naming its field.
//
// Refused everywhere:
//   - bytes that are not UTF-8 (including overlong encodings and UTF-8
//     encoded surrogates) and \u escapes of lone surrogates (\ud800);
//   - NUL and the other C0 controls, DEL and the C1 controls (U+0080–U+009F);
//   - the bidirectional embedding, override and isolate controls
//     (U+202A–U+202E, U+2066–U+2069), which make text display in an order
//     other than the one stored;
//   - the noncharacters U+FFFE and U+FFFF.
//
// Tab, line feed and carriage return are allowed only in free text: a field
// named in FreeTextFields, or any string inside a free-form object (a
// payload, a notification's data, a fix's params). A string is at most
// MaxString bytes, a free-text one at most MaxFreeText.
const (
	MaxString   = 4096
	MaxFreeText = 64 << 10
)

// FreeTextFields are the field names (the last part of a JSON path) whose
// strings may carry tab and line breaks: people's notes and messages.
var FreeTextFields = []string{"message", "reason", "note", "description"}

// freeFormObjects are the fields holding free-form JSON: every string in
// them is free text.
var freeFormObjects = []string{"payload", "data", "params"}

// textProblem says what is wrong with s as text, or "" when nothing is. free
// allows tab and line breaks.
func textProblem(s string, free bool) string {
	limit := MaxString
	if free {
		limit = MaxFreeText
	}
	if len(s) > limit {
		return fmt.Sprintf("at most %d bytes, got %d", limit, len(s))
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 && s[i] == 0xed && i+1 < len(s) && s[i+1] >= 0xa0 {
			return "must not contain a lone surrogate (\\ud800 to \\udfff); send a character outside the BMP as a \\u pair or as UTF-8"
		}
		if r == utf8.RuneError && size <= 1 {
			return fmt.Sprintf("is not valid UTF-8 (byte %d is 0x%02x); send text as UTF-8", i, s[i])
		}
		if p := runeProblem(r, free); p != "" {
			return p
		}
		i += size
	}
	return ""
}

// runeProblem says why r may not appear in text, or "".
func runeProblem(r rune, free bool) string {
	switch {
	case r == 0:
		return "must not contain NUL (\\u0000)"
	case r == '\t' || r == '\n' || r == '\r':
		if free {
			return ""
		}
		return fmt.Sprintf("must not contain a tab or line break (%U); only free text such as a message may", r)
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
		return fmt.Sprintf("must not contain the control character %U", r)
	case (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
		return fmt.Sprintf("must not contain the bidirectional control %U", r)
	case r == 0xfffe || r == 0xffff:
		return fmt.Sprintf("must not contain the noncharacter %U", r)
	case r >= 0xd800 && r <= 0xdfff:
		return fmt.Sprintf("must not contain a lone surrogate (%U)", r)
	}
	return ""
}

// CheckText returns a validation error naming field when s breaks the text
// rules (free allows tab and line breaks), else nil.
func CheckText(field, s string, free bool) error {
	if p := textProblem(s, free); p != "" {
		return invalidField(field, "%s", p)
	}
	return nil
}

// jsonPath tracks where a scan is inside a JSON document.
type jsonPath struct {
	parts []pathPart
}

type pathPart struct {
	key   string // object member name, when array is false
	index int
	array bool
}

// String renders the path as lines[0].sku; the empty path is "(body)".
func (p jsonPath) String() string {
	var b strings.Builder
	for _, part := range p.parts {
		if part.array {
			b.WriteString("[" + strconv.Itoa(part.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(part.key)
	}
	if b.Len() == 0 {
		return "(body)"
	}
	return b.String()
}

// free reports whether a string at this path is free text.
func (p jsonPath) free() bool {
	for i, part := range p.parts {
		if part.array {
			continue
		}
		for _, f := range freeFormObjects {
			if part.key == f && i < len(p.parts)-1 {
				return true
			}
		}
		if i == len(p.parts)-1 || (i == len(p.parts)-2 && p.parts[i+1].array) {
			for _, f := range FreeTextFields {
				if part.key == f {
					return true
				}
			}
		}
	}
	return false
}

// textScan walks the JSON in a body and checks every string against the
// text rules, before encoding/json can replace bad bytes with U+FFFD.
// Syntax errors are left to encoding/json: the scan stops quietly.
type textScan struct {
	body []byte
	pos  int
	path jsonPath
	bad  string // the first bad string's path
	why  string
}

// scanBody checks body's strings. It returns the first bad string's path
// and problem, or "" and "".
func scanBody(body []byte) (field, problem string) {
	s := &textScan{body: body}
	s.value()
	return s.bad, s.why
}

func (s *textScan) ws() {
	for s.pos < len(s.body) {
		switch s.body[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// value scans one JSON value; false stops the scan (bad text found or
// malformed JSON).
func (s *textScan) value() bool {
	s.ws()
	if s.pos >= len(s.body) {
		return false
	}
	switch c := s.body[s.pos]; {
	case c == '{':
		s.pos++
		s.ws()
		if s.pos < len(s.body) && s.body[s.pos] == '}' {
			s.pos++
			return true
		}
		for {
			s.ws()
			if s.pos >= len(s.body) || s.body[s.pos] != '"' {
				return false
			}
			key, ok := s.str(true)
			if !ok {
				return false
			}
			s.ws()
			if s.pos >= len(s.body) || s.body[s.pos] != ':' {
				return false
			}
			s.pos++
			s.path.parts = append(s.path.parts, pathPart{key: key})
			ok = s.value()
			s.path.parts = s.path.parts[:len(s.path.parts)-1]
			if !ok {
				return false
			}
			s.ws()
			if s.pos >= len(s.body) {
				return false
			}
			switch s.body[s.pos] {
			case ',':
				s.pos++
			case '}':
				s.pos++
				return true
			default:
				return false
			}
		}
	case c == '[':
		s.pos++
		s.ws()
		if s.pos < len(s.body) && s.body[s.pos] == ']' {
			s.pos++
			return true
		}
		for i := 0; ; i++ {
			s.path.parts = append(s.path.parts, pathPart{array: true, index: i})
			ok := s.value()
			s.path.parts = s.path.parts[:len(s.path.parts)-1]
			if !ok {
				return false
			}
			s.ws()
			if s.pos >= len(s.body) {
				return false
			}
			switch s.body[s.pos] {
			case ',':
				s.pos++
			case ']':
				s.pos++
				return true
			default:
				return false
			}
		}
	case c == '"':
		_, ok := s.str(false)
		return ok
	default:
		for s.pos < len(s.body) && strings.IndexByte(",]} \t\n\r", s.body[s.pos]) < 0 {
			s.pos++
		}
		return true
	}
}

// str scans a string at s.pos (an opening quote), decodes it and checks it.
// isKey names the problem after the object holding the key.
func (s *textScan) str(isKey bool) (string, bool) {
	s.pos++
	var b strings.Builder
	for {
		if s.pos >= len(s.body) {
			return "", false
		}
		c := s.body[s.pos]
		switch {
		case c == '"':
			s.pos++
			out := b.String()
			if s.bad == "" {
				free := s.path.free()
				if isKey {
					free = false
				}
				if p := textProblem(out, free); p != "" {
					s.bad = s.path.String()
					s.why = p
					if isKey {
						s.why = "a member name " + p
					}
				}
			}
			return out, s.bad == ""
		case c == '\\':
			if s.pos+1 >= len(s.body) {
				return "", false
			}
			e := s.body[s.pos+1]
			s.pos += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := s.hex4()
				if !ok {
					return "", false
				}
				if utf16.IsSurrogate(r) {
					// A high surrogate must be followed by an escaped low one.
					if r < 0xdc00 && s.pos+1 < len(s.body) && s.body[s.pos] == '\\' && s.body[s.pos+1] == 'u' {
						save := s.pos
						s.pos += 2
						r2, ok := s.hex4()
						if ok && r2 >= 0xdc00 && r2 <= 0xdfff {
							b.WriteRune(utf16.DecodeRune(r, r2))
							continue
						}
						s.pos = save
					}
					// Keep the lone surrogate visible to textProblem as an
					// invalid rune by writing its (invalid) UTF-8 form.
					b.WriteString(string([]byte{0xed, byte(0xa0 | (r>>6)&0x1f), byte(0x80 | r&0x3f)}))
					continue
				}
				b.WriteRune(r)
			default:
				return "", false
			}
		case c < 0x20:
			// encoding/json refuses raw control characters as a syntax error.
			return "", false
		default:
			b.WriteByte(c)
			s.pos++
		}
	}
}

func (s *textScan) hex4() (rune, bool) {
	if s.pos+4 > len(s.body) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s.body[s.pos:s.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	s.pos += 4
	return rune(n), true
}
