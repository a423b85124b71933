// Package netadapter adapts the network manager to the Networker interface
// of the engine and of the monitor (the same methods over engine/netspec
// types). It imports no engine package but the netspec leaf, so that the
// monitor's early entry (cmd/berth/internal/monitorentry) stays light.
package netadapter

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/engine/netspec"
	"github.com/berthdev/berth/network"
)

// Networker adapts the network manager to the engine's (and the monitor's)
// Networker interface: it converts the engine's NetworkSpec into the
// network package's options and the result back.
type Networker struct {
	M *network.Manager
}

// Attach joins a container to its networks. Only mode "bridge" (or "")
// attaches; "none" brings the loopback up; "host" and "container:<id>" use
// a namespace that is already networked, so there is nothing to do.
func (n Networker) Attach(ctx context.Context, req netspec.AttachRequest) (netspec.AttachResult, error) {
	spec := req.Spec
	switch {
	case spec.Mode == "none":
		return netspec.AttachResult{}, n.M.LoopbackUp(ctx, req.Pid)
	case spec.Mode == "host" || strings.HasPrefix(spec.Mode, "container:"):
		return netspec.AttachResult{}, nil
	case spec.Mode != "" && spec.Mode != "bridge":
		return netspec.AttachResult{}, fmt.Errorf("container %s: network mode %q is not supported: %w", req.ContainerName, spec.Mode, errdefs.ErrNotImplemented)
	}
	opts := network.AttachOptions{
		ContainerID:   req.ContainerID,
		ContainerName: req.ContainerName,
		Project:       req.Project,
		Pid:           req.Pid,
		DNS:           spec.DNS,
		DNSSearch:     spec.DNSSearch,
		DNSOptions:    spec.DNSOptions,
		ExtraHosts:    hostGatewayOnly(spec.ExtraHosts),
	}
	for _, i := range spec.Interfaces {
		opts.Endpoints = append(opts.Endpoints, network.EndpointOptions{Network: i.Network, Aliases: i.Aliases,
			IPv4Address: i.IPv4Address, IPv6Address: i.IPv6Address, MacAddress: i.MacAddress})
	}
	for _, p := range spec.Ports {
		opts.Ports = append(opts.Ports, network.PortOptions{HostIP: p.HostIP, HostPort: p.HostPort, HostPortEnd: p.HostPortEnd,
			ContainerPort: p.ContainerPort, Protocol: p.Protocol})
	}
	res, err := n.M.Attach(ctx, opts)
	if err != nil {
		return netspec.AttachResult{}, err
	}
	out := netspec.AttachResult{Networks: map[string]netspec.NetworkAttachment{}, Hosts: res.Hosts}
	for _, e := range res.Endpoints {
		out.Networks[e.Network] = netspec.NetworkAttachment{Network: e.Network, IPAddress: e.IPv4, PrefixLen: e.PrefixLen,
			Gateway: e.Gateway, IPv6Address: e.IPv6, MacAddress: e.MAC, Aliases: e.Aliases}
	}
	for _, p := range res.Ports {
		out.Ports = append(out.Ports, netspec.PortBinding{HostIP: p.HostIP, HostPort: p.HostPort,
			ContainerPort: p.ContainerPort, Protocol: p.Protocol})
	}
	return out, nil
}

// hostGatewayOnly keeps the extra_hosts entries the networker resolves
// (host-gateway); the monitor writes the others into /etc/hosts itself.
func hostGatewayOnly(entries []string) []string {
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e, ":host-gateway") || strings.HasSuffix(e, "=host-gateway") {
			out = append(out, e)
		}
	}
	return out
}

// Detach undoes Attach (idempotent).
func (n Networker) Detach(ctx context.Context, containerID string) error {
	return n.M.Detach(ctx, containerID)
}

// ServeDNS runs the container's embedded resolver until ctx is done.
func (n Networker) ServeDNS(ctx context.Context, containerID string, pid int) error {
	return n.M.ServeDNS(ctx, containerID, pid)
}
