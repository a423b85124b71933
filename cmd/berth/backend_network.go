package main

import "github.com/berthdev/berth/network"

// networks is the network manager of --root (bridges, addresses, published
// ports, embedded DNS). Cheap: it opens nothing until used.
func (c *cli) networks() (*network.Manager, error) {
	paths, err := c.paths()
	if err != nil {
		return nil, err
	}
	return network.New(network.Options{Paths: paths})
}
