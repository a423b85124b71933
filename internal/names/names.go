// Package names checks the name and digest syntaxes berth shares with
// docker: container, network and volume names, cgroup components, and
// sha256 digests.
//
// These used to be regular expressions compiled by package initialisers,
// which every berth process paid at start (the monitor and the CLI start
// for every container; `{0,127}` alone compiled to ~118 KB), for checks a
// loop does in nanoseconds.
package names

import "strings"

// Valid reports whether s is docker's name syntax, [a-zA-Z0-9][a-zA-Z0-9_.-]*,
// with a length from minLen to maxLen (maxLen 0: no upper bound).
func Valid(s string, minLen, maxLen int) bool {
	if len(s) < max(minLen, 1) || maxLen > 0 && len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// IsHex reports whether s is lower-case hexadecimal with a length from
// minLen to maxLen.
func IsHex(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// IsDigest reports whether s is a sha256 digest: "sha256:" and 64
// lower-case hex digits.
func IsDigest(s string) bool {
	hex, ok := strings.CutPrefix(s, "sha256:")
	return ok && IsHex(hex, 64, 64)
}
