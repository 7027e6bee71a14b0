package review

import (
	"errors"
	"testing"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// TestNormalizeEmailRefusesBadText: an address with invalid UTF-8 or a
// control character is refused, never stored with a replacement character.
func TestNormalizeEmailRefusesBadText(t *testing.T) {
	for _, in := range []string{"ana\xff@example.com", "a\x00b@example.com", "a\u202eb@example.com", "ana\xc0\xaf@example.com"} {
		if got, err := NormalizeEmail(in); !errors.Is(err, derrors.Invalid) {
			t.Errorf("NormalizeEmail(%q) = %q, %v, want an invalid-input error", in, got, err)
		}
	}
	if got, err := NormalizeEmail(" Ana@Example.com "); err != nil || got != "ana@example.com" {
		t.Errorf("NormalizeEmail(Ana@Example.com) = %q, %v, want ana@example.com", got, err)
	}
}
