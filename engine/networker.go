package engine

import (
	"context"

	"github.com/berthdev/berth/engine/netspec"
)

// Networker wires containers to networks. The network package implements
// it; cmd/berth passes it in (engine never imports network). The monitor
// calls Attach after the container's init is cloned into its new network
// namespace and before the init is released, so the process starts with its
// interfaces, routes, published ports and DNS in place.
type Networker interface {
	// Attach joins the container whose init is pid to spec's networks
	// (veth pairs, addresses, routes), publishes spec.Ports and registers
	// the container's DNS names. It returns the attachments and the ports
	// with their actual host ports. On error nothing it made is left.
	Attach(ctx context.Context, req AttachRequest) (AttachResult, error)
	// Detach undoes Attach: address leases, port rules, DNS records. It is
	// idempotent and safe after a crash (the next call cleans what a killed
	// process left).
	Detach(ctx context.Context, containerID string) error
	// ServeDNS runs the container's embedded resolver on 127.0.0.11:53
	// inside its network namespace until ctx is done.
	ServeDNS(ctx context.Context, containerID string, pid int) error
}

// AttachRequest is one container's networking, resolved (declared in engine/netspec).
type AttachRequest = netspec.AttachRequest

// AttachResult is what Attach made (declared in engine/netspec).
type AttachResult = netspec.AttachResult
