package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/network"
)

// networker adapts the network manager to the engine's (and the monitor's)
// Networker interface: it converts the engine's NetworkSpec into the
// network package's options and the result back.
type networker struct {
	m *network.Manager
}

var _ engine.Networker = networker{}

// Attach joins a container to its networks. Only mode "bridge" (or "")
// attaches; "none" brings the loopback up; "host" and "container:<id>" use
// a namespace that is already networked, so there is nothing to do.
func (n networker) Attach(ctx context.Context, req engine.AttachRequest) (engine.AttachResult, error) {
	spec := req.Spec
	switch {
	case spec.Mode == "none":
		return engine.AttachResult{}, n.m.LoopbackUp(ctx, req.Pid)
	case spec.Mode == "host" || strings.HasPrefix(spec.Mode, "container:"):
		return engine.AttachResult{}, nil
	case spec.Mode != "" && spec.Mode != "bridge":
		return engine.AttachResult{}, fmt.Errorf("container %s: network mode %q is not supported: %w", req.ContainerName, spec.Mode, errdefs.ErrNotImplemented)
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
		opts.Ports = append(opts.Ports, network.PortOptions{HostIP: p.HostIP, HostPort: p.HostPort,
			ContainerPort: p.ContainerPort, Protocol: p.Protocol})
	}
	res, err := n.m.Attach(ctx, opts)
	if err != nil {
		return engine.AttachResult{}, err
	}
	out := engine.AttachResult{Networks: map[string]engine.NetworkAttachment{}, Hosts: res.Hosts}
	for _, e := range res.Endpoints {
		out.Networks[e.Network] = engine.NetworkAttachment{Network: e.Network, IPAddress: e.IPv4, PrefixLen: e.PrefixLen,
			Gateway: e.Gateway, IPv6Address: e.IPv6, MacAddress: e.MAC, Aliases: e.Aliases}
	}
	for _, p := range res.Ports {
		out.Ports = append(out.Ports, engine.PortBinding{HostIP: p.HostIP, HostPort: p.HostPort,
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
func (n networker) Detach(ctx context.Context, containerID string) error {
	return n.m.Detach(ctx, containerID)
}

// ServeDNS runs the container's embedded resolver until ctx is done.
func (n networker) ServeDNS(ctx context.Context, containerID string, pid int) error {
	return n.m.ServeDNS(ctx, containerID, pid)
}
