package main

import (
	"github.com/berthdev/berth/volumes"
)

// volumes is the volume manager of --root. Whether a volume is in use is
// asked of the engine (containersUsingVolume), so `volume rm` and `prune`
// never delete a volume a container mounts.
func (c *cli) volumes() (*volumes.Manager, error) {
	paths, err := c.paths()
	if err != nil {
		return nil, err
	}
	return volumes.New(volumes.Options{Paths: paths, InUse: c.containersUsingVolume})
}
