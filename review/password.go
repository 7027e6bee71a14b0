package review

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// Password limits. The floor follows NIST SP 800-63B's advice for
// passwords chosen by people (length over composition rules); the ceiling
// keeps one login request from costing more than the hash itself.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// argonParams are argon2id's cost settings: OWASP's minimum for argon2id
// (19 MiB, two passes, one lane). A hash records its own parameters, so
// raising them later only affects new and reset passwords.
type argonParams struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
}

var defaultArgon = argonParams{memory: 19 * 1024, time: 2, threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// CheckPassword says what is wrong with a new password, if anything.
func CheckPassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return fmt.Errorf("the password is not valid UTF-8: %w", derrors.Invalid)
	case n < MinPasswordLen:
		return fmt.Errorf("the password has %d characters; use at least %d: %w", n, MinPasswordLen, derrors.Invalid)
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("the password is over %d bytes: %w", MaxPasswordLen, derrors.Invalid)
	case strings.TrimSpace(pw) == "":
		return fmt.Errorf("the password is only spaces: %w", derrors.Invalid)
	}
	return nil
}

// hashPassword returns pw's argon2id hash in the PHC string format
// ($argon2id$v=19$m=…,t=…,p=…$salt$key).
func hashPassword(pw string, p argonParams) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hashing password: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("malformed password hash")

// verifyPassword says whether pw matches the encoded hash, in constant time.
func verifyPassword(pw, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var p argonParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil {
		return false, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
