package names

import (
	"regexp"
	"strings"
	"testing"
)

// TestValidMatchesDockerSyntax checks Valid against the regular expression
// it replaces, on names built from every interesting character.
func TestValidMatchesDockerSyntax(t *testing.T) {
	re := regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	chars := []string{"a", "Z", "0", "_", ".", "-", "/", " ", "é", ":", "\x00"}
	var cases []string
	for _, a := range chars {
		for _, b := range chars {
			for _, c := range chars {
				cases = append(cases, a, a+b, a+b+c)
			}
		}
	}
	cases = append(cases, "", "..", "../x", "web-1", "my_project.db-1")
	for _, s := range cases {
		if got, want := Valid(s, 1, 0), re.MatchString(s); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	}
	long := "a" + strings.Repeat("b", 127)
	if !Valid(long, 1, 128) || Valid(long+"c", 1, 128) {
		t.Error("the upper bound is not applied at 128")
	}
	if Valid("a", 2, 0) || !Valid("ab", 2, 0) {
		t.Error("the lower bound is not applied at 2")
	}
}

func TestIsDigest(t *testing.T) {
	hex := strings.Repeat("0123456789abcdef", 4)
	for s, want := range map[string]bool{
		"sha256:" + hex:                  true,
		"sha256:" + strings.ToUpper(hex): false,
		"sha256:" + hex[:63]:             false,
		"sha256:" + hex + "0":            false,
		hex:                              false,
		"sha512:" + hex:                  false,
		"sha256:" + hex[:62] + "g0":      false,
		"sha256:../../" + hex[:58]:       false,
	} {
		if got := IsDigest(s); got != want {
			t.Errorf("IsDigest(%q) = %v, want %v", s, got, want)
		}
	}
	if !IsHex("abc", 1, 64) || IsHex("", 1, 64) || IsHex("ABC", 1, 64) {
		t.Error("IsHex")
	}
}
