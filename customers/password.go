package customers

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"acme"
)

// PasswordParams are the argon2id cost parameters of new hashes. Stored hashes
// carry their own parameters, so raising them later keeps old hashes verifiable.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	KeyLen  uint32
	SaltLen uint32
}

// DefaultPasswordParams follow the OWASP minimum for argon2id (19 MiB, 2 passes,
// 1 lane): about 20–40 ms per hash on one core.
var DefaultPasswordParams = PasswordParams{Memory: 19 * 1024, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}

// MinPasswordLength is the shortest accepted password.
const MinPasswordLength = 10

//go:embed common-passwords.txt
var commonPasswordsFile string

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 11000)
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsFile))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m[strings.ToLower(line)] = struct{}{}
	}
	return m
})

// checkPassword enforces the strength rule: at least 10 characters, a letter and
// a digit, and not a well-known common password (compared lower-cased).
func checkPassword(p string) error {
	if utf8.RuneCountInString(p) < MinPasswordLength {
		return acme.Errorf(CodeWeakPassword, "the password must have at least %d characters", MinPasswordLength)
	}
	var letter, digit bool
	for _, r := range p {
		letter = letter || unicode.IsLetter(r)
		digit = digit || unicode.IsDigit(r)
	}
	if !letter || !digit {
		return acme.Errorf(CodeWeakPassword, "the password must contain a letter and a digit")
	}
	if _, common := commonPasswords()[strings.ToLower(p)]; common {
		return acme.Errorf(CodeWeakPassword, "this password is too common; choose another")
	}
	return nil
}

// hasher hashes and verifies passwords, bounding how many argon2 computations run
// at once (each holds Memory KiB).
type hasher struct {
	params PasswordParams
	sem    chan struct{}
	dummy  string // a hash of a random password, verified when the email is unknown

	verified atomic.Int64 // argon2id verifications run (tests check both login paths run one)
}

func newHasher(p PasswordParams, concurrency int) *hasher {
	if concurrency < 1 {
		concurrency = 4
	}
	h := &hasher{params: p, sem: make(chan struct{}, concurrency)}
	var pw [24]byte
	_, _ = rand.Read(pw[:])
	h.dummy, _ = h.hash(base64.RawStdEncoding.EncodeToString(pw[:]))
	return h
}

// hash returns the PHC-style encoding "$argon2id$v=19$m=..,t=..,p=..$salt$key".
func (h *hasher) hash(password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	h.sem <- struct{}{}
	key := argon2.IDKey([]byte(password), salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
	<-h.sem
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, h.params.Memory, h.params.Time,
		h.params.Threads, base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

var errBadHash = errors.New("customers: malformed password hash")

// verify reports whether password matches encoded, in constant time.
func (h *hasher) verify(password, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || p == 0 || t == 0 {
		return false, errBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	h.verified.Add(1)
	h.sem <- struct{}{}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	<-h.sem
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
