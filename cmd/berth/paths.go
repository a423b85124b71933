package main

import "github.com/berthdev/berth/engine/state"

// paths is the on-disk layout for --root / BERTH_ROOT.
func (c *cli) paths() (state.Paths, error) {
	return state.NewPaths(c.opts.Root)
}
