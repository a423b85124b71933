package devrule

import (
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, want string // want "" means an error
	}{
		{"c 13:* rwm", "c 13:* rwm"},
		{"c 1:3 rwm", "c 1:3 rwm"},
		{"b 8:0 r", "b 8:0 r"},
		{"b 8:* r", "b 8:* r"},
		{"c *:* m", "c *:* m"},
		{"a *:* rwm", "a *:* rwm"},
		{"a 1:3 r", "a *:* r"},
		{"c 42:* rmw", "c 42:* rmw"},
		{"  c   1:3   rw ", "c 1:3 rw"},
		{"c 1:3", "c 1:3 rwm"}, // the access defaults to rwm
		{"", ""},
		{"a", ""},
		{"c 1:3 rwm x", ""},
		{"x 1:3 rwm", ""},
		{"cc 1:3 rwm", ""},
		{"c 1 rwm", ""},
		{"c 1-3 rwm", ""},
		{"c a:3 rwm", ""},
		{"c 1:b rwm", ""},
		{"c -1:3 rwm", ""},
		{"c 1:-5 rwm", ""},
		{"c 1:3 rwx", ""},
		{"c 1:3 rr", ""},
		{"c 1:3 rwmr", ""},
	}
	for _, tc := range tests {
		r, err := Parse(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("Parse(%q) = %v, want an error", tc.in, r)
		case tc.want == "" && (!errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "device_cgroup_rules") || !strings.Contains(err.Error(), "want ")):
			t.Errorf("Parse(%q) err = %v, want InvalidArgument naming device_cgroup_rules and the syntax", tc.in, err)
		case tc.want != "" && err != nil:
			t.Errorf("Parse(%q): %v", tc.in, err)
		case tc.want != "" && (r.String() != tc.want || !r.Allow || !r.Valid()):
			t.Errorf("Parse(%q) = %+v (%q), want the allow rule %q", tc.in, r, r.String(), tc.want)
		}
	}
}

func TestString(t *testing.T) {
	for r, want := range map[Rule]string{
		{Allow: true, Type: 'c', Major: 1, Minor: 3, Access: "rwm"}:   "c 1:3 rwm",
		{Allow: true, Type: 'b', Major: 8, Minor: -1, Access: "r"}:    "b 8:* r",
		{Allow: true, Type: 'c', Major: -1, Minor: -1, Access: "m"}:   "c *:* m",
		{Allow: false, Type: 'c', Major: 10, Minor: 200, Access: "w"}: "c 10:200 w",
		DenyAll:  "a *:* rwm",
		AllowAll: "a *:* rwm",
	} {
		if got := r.String(); got != want {
			t.Errorf("%+v.String() = %q, want %q", r, got, want)
		}
	}
	if DenyAll.Allow || !AllowAll.Allow {
		t.Errorf("DenyAll %+v, AllowAll %+v", DenyAll, AllowAll)
	}
}

// TestDefaults pins docker's list: allow rules only (the deny-all is the
// cgroup layer's), each once, in docker's order.
func TestDefaults(t *testing.T) {
	want := []string{"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
		"c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm"}
	var got []string
	for _, r := range Defaults() {
		if !r.Allow || !r.Valid() || r.Type == 'a' {
			t.Errorf("default rule %+v: want a valid allow rule for c or b devices", r)
		}
		got = append(got, r.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("Defaults = %q\nwant %q", got, want)
	}
	// Each call is a new slice: appending to or changing one leaves the
	// next call's alone.
	d := Defaults()
	d[0].Access = "r"
	_ = append(d[:1], AllowAll)
	if again := Defaults(); again[0].Access != "m" || again[1].String() != "b *:* m" {
		t.Errorf("Defaults changed by a caller: %v", again)
	}
}

func TestValid(t *testing.T) {
	for a, ok := range map[string]bool{
		"r": true, "w": true, "m": true, "rw": true, "mr": true, "rwm": true, "mwr": true,
		"": false, "x": false, "rr": false, "rwmr": false, "rwx": false, "R": false,
	} {
		if got := ValidAccess(a); got != ok {
			t.Errorf("ValidAccess(%q) = %v, want %v", a, got, ok)
		}
	}
	for _, r := range []Rule{{Type: 'x', Access: "r"}, {Type: 'c', Access: ""}, {Type: 0, Access: "rwm"}} {
		if r.Valid() {
			t.Errorf("%+v is valid", r)
		}
	}
}
