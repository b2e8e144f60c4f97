package customers

import (
	"strings"
	"testing"
)

var testParams = PasswordParams{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

func TestHashVerify(t *testing.T) {
	h := newHasher(testParams, 2)
	enc, err := h.hash("correct7horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("encoding = %q", enc)
	}
	if ok, err := h.verify("correct7horse", enc); !ok || err != nil {
		t.Fatalf("verify right password = %v, %v", ok, err)
	}
	if ok, _ := h.verify("correct7horsE", enc); ok {
		t.Fatal("wrong password verified")
	}
	enc2, _ := h.hash("correct7horse")
	if enc2 == enc {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	// Stored hashes keep their own parameters.
	strong := newHasher(DefaultPasswordParams, 1)
	if ok, err := strong.verify("correct7horse", enc); !ok || err != nil {
		t.Fatalf("verify with other default params = %v, %v", ok, err)
	}
	for _, bad := range []string{"", "$argon2id$v=19$m=1,t=1,p=1$$", "$bcrypt$x", "$argon2id$v=19$m=a,t=1,p=1$AAAA$AAAA"} {
		if _, err := h.verify("x", bad); err == nil {
			t.Errorf("verify(%q) accepted a malformed hash", bad)
		}
	}
}

func TestCommonPasswordListIsEmbedded(t *testing.T) {
	if n := len(commonPasswords()); n < 5000 {
		t.Fatalf("common passwords = %d, want a few thousand", n)
	}
	if checkPassword("Zebra-Tundra-42") != nil {
		t.Fatal("a strong password was refused")
	}
}
