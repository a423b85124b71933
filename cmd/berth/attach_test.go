package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseDetachKeys(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []byte
	}{
		{"ctrl-p,ctrl-q", []byte{16, 17}},
		{"ctrl-a", []byte{1}},
		{"ctrl-Z,x", []byte{26, 'x'}},
		{"ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", []byte{0, 27, 28, 29, 30, 31}},
	} {
		got, err := parseDetachKeys(tc.in)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("parseDetachKeys(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "ctrl-", "ctrl-1", "ctrl-pq", "alt-p", "ctrl-p,,ctrl-q"} {
		if _, err := parseDetachKeys(bad); err == nil || !strings.Contains(err.Error(), "ctrl-p,ctrl-q") {
			t.Errorf("parseDetachKeys(%q): %v, want an error that shows the syntax", bad, err)
		}
	}
}

func TestEscapeReader(t *testing.T) {
	const p, q = "\x10", "\x11"
	for _, tc := range []struct {
		name, in, want string
		detached       bool
	}{
		{"no keys", "hello\n", "hello\n", false},
		{"keys end the input", "abc" + p + q + "after", "abc", true},
		{"a broken sequence is passed on", "a" + p + "b" + p + p + q, "a" + p + "b" + p, true},
		{"a partial sequence at EOF is passed on", "tail" + p, "tail" + p, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, oneByte := range []bool{false, true} {
				var r io.Reader = strings.NewReader(tc.in)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				escaped := 0
				e := &escapeReader{r: r, keys: []byte(p + q), onEscape: func() { escaped++ }}
				got, err := io.ReadAll(e)
				if string(got) != tc.want {
					t.Errorf("one byte %v: read %q, want %q", oneByte, got, tc.want)
				}
				if tc.detached != (escaped == 1) || tc.detached != errors.Is(err, errDetached) {
					t.Errorf("one byte %v: escaped %d times, err %v; want detached %v", oneByte, escaped, err, tc.detached)
				}
			}
		})
	}
}
