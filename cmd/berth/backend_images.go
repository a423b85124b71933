package main

import (
	"github.com/berthdev/berth/engine/image"
)

// images is the image store of --root. Registry mirrors and insecure
// registries come from berth's config file (BERTH_CONFIG, default
// /etc/berth/config.json); which images containers use is asked of the
// engine (imagesInUse), so rm and prune never take an image a container
// needs.
func (c *cli) images() (*image.Store, error) {
	paths, err := c.paths()
	if err != nil {
		return nil, err
	}
	return image.New(image.Options{Root: paths.Images(), Snapshots: paths.Snapshots(),
		ConfigFile: c.configFile(), InUse: c.imagesInUse})
}

// configFile is berth's config file: BERTH_CONFIG, else
// /etc/berth/config.json (a missing file is an empty config).
func (c *cli) configFile() string {
	if v, ok := c.getenv("BERTH_CONFIG"); ok && v != "" {
		return v
	}
	return image.DefaultConfigFile
}
