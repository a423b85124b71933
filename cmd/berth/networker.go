package main

import (
	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/engine/monitor"
	"github.com/berthdev/berth/internal/netadapter"
)

// networker adapts the network manager to the engine's and the monitor's
// Networker interface (networker{M: manager}). The adapter lives in
// internal/netadapter so that the monitor's early entry can use it without
// the rest of the CLI.
type networker = netadapter.Networker

var (
	_ engine.Networker  = networker{}
	_ monitor.Networker = networker{}
)
