package main

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
)

type closeCount struct{ n int }

func (c *closeCount) Close() { c.n++ }

// TestConfirmer: piped answers are read one line per question; the
// question is printed as docker compose's pipe prompt prints it; no answer
// is no; the live view is closed before asking.
func TestConfirmer(t *testing.T) {
	var out bytes.Buffer
	c := &cli{stdin: strings.NewReader("y\nno\nYES\n"), stdout: &out}
	d := &closeCount{}
	ask := c.confirmer(d)
	var got []bool
	for range 4 {
		ok, err := ask(context.Background(), "Recreate?")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ok)
	}
	if want := []bool{true, false, true, false}; !slices.Equal(got, want) {
		t.Errorf("answers %v, want %v", got, want)
	}
	if want := "Recreate? Recreate? Recreate? Recreate? \n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	if d.n != 4 {
		t.Errorf("display closed %d times", d.n)
	}
}

func TestConfirmerCancelled(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	c := &cli{stdin: r, stdout: &bytes.Buffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ok, err := c.confirmer(&closeCount{})(ctx, "Recreate?"); ok || err == nil {
		t.Errorf("cancelled: %v %v", ok, err)
	}
}
