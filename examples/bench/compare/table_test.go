package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func ms(v ...float64) []time.Duration {
	d := make([]time.Duration, len(v))
	for i, x := range v {
		d[i] = time.Duration(x * float64(time.Millisecond))
	}
	return d
}

func TestSummary(t *testing.T) {
	for _, c := range []struct {
		runs []time.Duration
		want string
	}{
		{ms(332, 311, 330), "330 ms (311–332, 3 runs)"},
		{ms(53, 63, 58.5, 60, 55), "58.5 ms (53.0–63.0, 5 runs)"},
		{ms(2390, 2550, 2410, 2500), "2.46 s (2.39–2.55, 4 runs)"}, // even count: mean of the middle two
		{ms(30600), "30.6 s (1 run)"},
		{nil, "—"},
	} {
		if got := summary(c.runs); got != c.want {
			t.Errorf("summary(%v) = %q, want %q", c.runs, got, c.want)
		}
	}
}

func TestRatio(t *testing.T) {
	for _, c := range []struct {
		other, base []time.Duration
		want        string
	}{
		{ms(2420), ms(330), "7.3×"},
		{ms(30600), ms(170), "180×"},
		{ms(100, 90, 110), ms(150), "0.67×"},
		{nil, ms(1), "—"},
	} {
		if got := ratio(c.other, c.base); got != c.want {
			t.Errorf("ratio(%v, %v) = %q, want %q", c.other, c.base, got, c.want)
		}
	}
}

func TestCountIDs(t *testing.T) {
	out := "['podman', '--version', '']\nusing podman version: 4.3.1\n4cac4f9307b4\n12dfe1f55709\nexit code: 0\n" +
		"8c01cb8168c44a97e97d241c15fb22251965f6fca41a70dbaa51f647c23301c2\n"
	if got := countIDs(out); got != 3 {
		t.Errorf("countIDs = %d, want 3", got)
	}
}

func TestTable(t *testing.T) {
	tools := []*tool{
		{name: "berth"},
		{name: "Docker Compose v2", engine: []string{"docker"}},
		{name: "podman-compose", noWait: true, skip: "podman: no runtime"},
	}
	ks := []kase{
		{title: "web3 `up -d`, cold", kind: upCold},
		{title: "web3 `up -d --wait`, cold", kind: upCold, wait: true},
		{title: "`run --rm w01 true`", kind: runRm},
		{title: "plain run", kind: plainRun},
	}
	res := results{cases: ks, cells: map[string]cell{}}
	set := func(k kase, t *tool, c cell) { res.cells[k.title+"\x00"+t.name] = c }
	set(ks[0], tools[0], cell{runs: ms(330)})
	set(ks[0], tools[1], cell{runs: ms(2420)})
	set(ks[1], tools[0], cell{runs: ms(340)})
	set(ks[1], tools[1], cell{err: errors.New("exit 1")})
	set(ks[2], tools[0], cell{runs: ms(100)})
	set(ks[3], tools[1], cell{runs: ms(290)})
	got := table(res, tools)
	for _, want := range []string{
		"| work | berth | Docker Compose v2 | ratio |\n|---|---|---|---|\n",
		"| web3 `up -d`, cold | 330 ms (1 run) | 2.42 s (1 run) | 7.3× |\n",
		"| web3 `up -d --wait`, cold | 340 ms (1 run) | failed | — |\n",
		"| `run --rm w01 true` | 100 ms (1 run) | — | |\n",
		"| plain run | — (¹) | 290 ms (1 run) | 2.9× |\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "podman") {
		t.Errorf("a skipped tool has a column:\n%s", got)
	}
}
