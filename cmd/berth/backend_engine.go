package main

import (
	"context"
	"fmt"

	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/engine/cgroups"
)

// engine is the container engine of --root, over the image store (and its
// snapshotter), berth's cgroups and the network manager. Cheap: nothing
// runs until it is used. The engine tells the image store which images its
// containers use (the store's garbage collector keeps them).
func (c *cli) engine(ctx context.Context) (*engine.Engine, error) {
	paths, err := c.paths()
	if err != nil {
		return nil, err
	}
	store, err := c.images()
	if err != nil {
		return nil, err
	}
	cg, err := cgroups.New(cgroups.Options{Root: "/sys/fs/cgroup", Parent: "berth"})
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	nets, err := c.networks()
	if err != nil {
		return nil, err
	}
	return engine.New(engine.Options{Paths: paths, Images: store, Snapshotter: store.Snapshotter(),
		Cgroups: cg, Networker: networker{M: nets}})
}
