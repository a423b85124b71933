package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// median is the middle run (the mean of the two middle ones for an even
// count).
func median(sorted []time.Duration) time.Duration {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// unit picks how d and its range are printed: ms below 1 s, then s, with
// three significant digits.
func unit(d time.Duration) (scale float64, suffix string, decimals int) {
	switch {
	case d < 100*time.Millisecond:
		return 1e6, "ms", 1
	case d < time.Second:
		return 1e6, "ms", 0
	case d < 10*time.Second:
		return 1e9, "s", 2
	}
	return 1e9, "s", 1
}

// summary prints runs as "2.41 s (2.39–2.55, 5 runs)", or "30.6 s (1 run)".
func summary(runs []time.Duration) string {
	if len(runs) == 0 {
		return "—"
	}
	s := slices.Clone(runs)
	slices.Sort(s)
	scale, suffix, dec := unit(median(s))
	f := func(d time.Duration) string { return fmt.Sprintf("%.*f", dec, float64(d)/scale) }
	if len(s) == 1 {
		return fmt.Sprintf("%s %s (1 run)", f(s[0]), suffix)
	}
	return fmt.Sprintf("%s %s (%s–%s, %d runs)", f(median(s)), suffix, f(s[0]), f(s[len(s)-1]), len(s))
}

// figure is a cell in the table: its summary, or "failed" (the progress
// log has why).
func figure(c cell) string {
	if c.err != nil {
		return "failed"
	}
	return summary(c.runs)
}

// ratio prints other/base of the medians: "7.3×".
func ratio(other, base []time.Duration) string {
	if len(other) == 0 || len(base) == 0 {
		return "—"
	}
	o, b := slices.Clone(other), slices.Clone(base)
	slices.Sort(o)
	slices.Sort(b)
	x := float64(median(o)) / float64(median(b))
	switch {
	case x >= 10:
		return fmt.Sprintf("%.0f×", math.Round(x))
	case x >= 1:
		return fmt.Sprintf("%.1f×", x)
	}
	return fmt.Sprintf("%.2f×", x)
}

// table prints the results as Markdown: berth's figure, then each other
// measured tool's with its ratio to berth's.
func table(res results, tools []*tool) string {
	var b strings.Builder
	berth, others := tools[0], []*tool{}
	head := "| work | " + berth.name + " |"
	rule := "|---|---|"
	for _, t := range tools[1:] {
		if t.skip == "" {
			others = append(others, t)
			head += " " + t.name + " | ratio |"
			rule += "---|---|"
		}
	}
	b.WriteString(head + "\n" + rule + "\n")
	var runRmBase cell
	for _, k := range res.cases {
		base, _ := res.get(k, berth)
		if k.kind == runRm {
			runRmBase = base
		}
		mine := figure(base)
		if k.kind == plainRun {
			base, mine = runRmBase, "— (¹)"
		}
		b.WriteString("| " + k.title + " | " + mine + " |")
		for _, t := range others {
			c, ok := res.get(k, t)
			switch {
			case !ok:
				b.WriteString(" — | |")
			default:
				b.WriteString(" " + figure(c) + " | " + ratio(c.runs, base.runs) + " |")
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\nratio: the other tool's median over berth's. (¹) berth has no `run` outside a compose project: " +
		"the ratio is to berth's `run --rm --no-deps w01 true`.\n")
	return b.String()
}
