package scheduler

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/network"
)

// projectNetworks translates the project's networks into network specs,
// sorted by name: the compose name ("<project>_<key>" unless `name:`),
// docker compose's labels (project, network key, version, config hash),
// driver, driver_opts, internal, enable_ipv6, ipam.config and external.
func projectNetworks(p *types.Project) ([]network.Spec, error) {
	var out []network.Spec
	for _, key := range sortedKeys(p.Networks) {
		n := p.Networks[key]
		spec := network.Spec{
			Name:     n.Name,
			Driver:   n.Driver,
			Internal: n.Internal,
			External: bool(n.External),
			Options:  maps.Clone(map[string]string(n.DriverOpts)),
		}
		if spec.Name == "" {
			spec.Name = p.Name + "_" + key
		}
		if n.EnableIPv6 != nil {
			spec.EnableIPv6 = *n.EnableIPv6
		}
		if n.EnableIPv4 != nil && !*n.EnableIPv4 {
			return nil, fmt.Errorf("network %q: enable_ipv4: false (IPv6-only networks) is not supported: %w", key, errdefs.ErrNotImplemented)
		}
		if d := n.Ipam.Driver; d != "" && d != "default" {
			return nil, fmt.Errorf("network %q: ipam driver %q is not supported (only default): %w", key, d, errdefs.ErrNotImplemented)
		}
		for _, c := range n.Ipam.Config {
			if c == nil {
				continue
			}
			spec.IPAM = append(spec.IPAM, network.IPAMConfig{Subnet: c.Subnet, Gateway: c.Gateway, IPRange: c.IPRange})
		}
		if !spec.External {
			spec.Labels = maps.Clone(map[string]string(n.Labels))
			if spec.Labels == nil {
				spec.Labels = map[string]string{}
			}
			maps.Copy(spec.Labels, n.CustomLabels)
			spec.Labels[compose.LabelProject] = p.Name
			spec.Labels[compose.LabelNetwork] = key
			spec.Labels[compose.LabelVersion] = compose.ComposeVersion
			if h, err := networkHash(n); err == nil {
				spec.Labels[compose.LabelConfigHash] = h
			}
		}
		out = append(out, spec)
	}
	return out, nil
}

// networkHash is the config-hash label of a network, as docker compose
// computes it (sha256 of the network's JSON).
func networkHash(n types.NetworkConfig) (string, error) {
	b, err := json.Marshal(n)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// serviceNetworkSpec translates a service's networking into the engine's
// NetworkSpec for one of its containers:
//   - network_mode none and host as is; service:X becomes container:<id of
//     X's first container> through lookup; container:X is kept (the engine
//     resolves a name or an ID); "" and "bridge" join the service's networks;
//   - networks (by default the project's default network) in priority
//     order — gw_priority, then priority, highest first, then name — each
//     with the service name, the compose aliases and the aliases other
//     services give it through links (db:database makes "database" a name
//     of db), ipv4_address, ipv6_address and mac_address (the service-level
//     mac_address goes to the first network);
//   - ports in every form compose-go normalises (short and long syntax,
//     host IP, ranges already expanded, udp, a container port alone meaning
//     a random host port; a host port range for one container port takes
//     its first free port); `expose` is informational and publishes nothing;
//   - dns, dns_search, dns_opt and extra_hosts (host-gateway included,
//     resolved by the networker).
func serviceNetworkSpec(p *types.Project, svc types.ServiceConfig, containerName string, lookup func(string) (string, error)) (engine.NetworkSpec, error) {
	spec := engine.NetworkSpec{
		DNS:        append([]string(nil), svc.DNS...),
		DNSSearch:  append([]string(nil), svc.DNSSearch...),
		DNSOptions: append([]string(nil), svc.DNSOpts...),
		ExtraHosts: extraHosts(svc.ExtraHosts),
	}
	mode := svc.NetworkMode
	switch {
	case mode == "none" || mode == "host":
		spec.Mode = mode
		return spec, nil // published ports are discarded with these modes, as docker does
	case strings.HasPrefix(mode, types.NetworkModeServicePrefix):
		name := strings.TrimPrefix(mode, types.NetworkModeServicePrefix)
		if lookup == nil {
			return spec, fmt.Errorf("network_mode service:%s cannot be resolved here: %w", name, errdefs.ErrInvalidArgument)
		}
		id, err := lookup(name)
		if err != nil {
			return spec, fmt.Errorf("network_mode: cannot share the network of service %s: %w", name, err)
		}
		spec.Mode = "container:" + id
		return spec, nil
	case strings.HasPrefix(mode, types.NetworkModeContainerPrefix):
		spec.Mode = mode
		return spec, nil
	case mode != "" && mode != "bridge":
		return spec, fmt.Errorf("network_mode %q is not supported (none, host, service:NAME, container:NAME): %w", mode, errdefs.ErrNotImplemented)
	}
	spec.Mode = "bridge"

	nets := svc.Networks
	if len(nets) == 0 {
		nets = map[string]*types.ServiceNetworkConfig{"default": nil}
	}
	keys := make([]string, 0, len(nets))
	for k := range nets {
		keys = append(keys, k)
	}
	prio := func(k string) (int, int) {
		if c := nets[k]; c != nil {
			return c.GatewayPriority, c.Priority
		}
		return 0, 0
	}
	sort.Slice(keys, func(i, j int) bool {
		gi, pi := prio(keys[i])
		gj, pj := prio(keys[j])
		if gi != gj {
			return gi > gj
		}
		if pi != pj {
			return pi > pj
		}
		return keys[i] < keys[j]
	})
	linked := linkAliases(p, svc.Name)
	for i, key := range keys {
		n, ok := p.Networks[key]
		if !ok {
			return spec, fmt.Errorf("service refers to undefined network %s: %w", key, errdefs.ErrInvalidArgument)
		}
		name := n.Name
		if name == "" {
			name = p.Name + "_" + key
		}
		iface := engine.Interface{Network: name, Aliases: dedupe(append([]string{svc.Name}, linked...))}
		if c := nets[key]; c != nil {
			iface.Aliases = dedupe(append(iface.Aliases, c.Aliases...))
			iface.IPv4Address, iface.IPv6Address, iface.MacAddress = c.Ipv4Address, c.Ipv6Address, c.MacAddress
		}
		if i == 0 && iface.MacAddress == "" {
			iface.MacAddress = svc.MacAddress
		}
		spec.Interfaces = append(spec.Interfaces, iface)
	}
	_ = containerName // the networker adds the container name to every network's names
	ports, err := portBindings(svc.Ports)
	if err != nil {
		return spec, err
	}
	spec.Ports = ports
	return spec, nil
}

// portBindings translates compose ports (as compose-go normalised them)
// into the engine's bindings.
func portBindings(ports []types.ServicePortConfig) ([]engine.PortBinding, error) {
	var out []engine.PortBinding
	for _, p := range ports {
		proto := strings.ToLower(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" {
			return nil, fmt.Errorf("port %d/%s: only tcp and udp can be published: %w", p.Target, proto, errdefs.ErrNotImplemented)
		}
		if p.Target == 0 || p.Target > 65535 {
			return nil, fmt.Errorf("port %q: invalid container port %d: %w", p.Published, p.Target, errdefs.ErrInvalidArgument)
		}
		b := engine.PortBinding{ContainerPort: uint16(p.Target), Protocol: proto}
		if p.HostIP != "" {
			ip := strings.Trim(p.HostIP, "[]")
			a, err := netip.ParseAddr(ip)
			if err != nil {
				return nil, fmt.Errorf("port %d: host_ip %q is not an address: %w", p.Target, p.HostIP, errdefs.ErrInvalidArgument)
			}
			if !a.IsUnspecified() || a.Is6() {
				b.HostIP = a.String()
			}
		}
		if p.Published != "" {
			first, last, isRange := strings.Cut(p.Published, "-")
			n, err := strconv.ParseUint(first, 10, 16)
			if err != nil {
				return nil, fmt.Errorf("port %d: published %q is not a port or a range: %w", p.Target, p.Published, errdefs.ErrInvalidArgument)
			}
			b.HostPort = uint16(n)
			if isRange {
				e, err := strconv.ParseUint(last, 10, 16)
				if err != nil || e < n {
					return nil, fmt.Errorf("port %d: published %q is not a port or a range: %w", p.Target, p.Published, errdefs.ErrInvalidArgument)
				}
				b.HostPortEnd = uint16(e)
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// linkAliases are the names other services give service through links:
// "links: [db:database]" makes "database" a name of db (on the networks
// they share); a plain "links: [db]" adds nothing new.
func linkAliases(p *types.Project, service string) []string {
	var out []string
	for _, other := range sortedKeys(p.Services) {
		for _, l := range p.Services[other].Links {
			target, alias, ok := strings.Cut(l, ":")
			if target == service && ok && alias != "" {
				out = append(out, alias)
			}
		}
	}
	return out
}

// extraHosts renders compose's extra_hosts as sorted "name:ip" entries.
func extraHosts(h types.HostsList) []string {
	var out []string
	for name, ips := range h {
		for _, ip := range ips {
			out = append(out, name+":"+ip)
		}
	}
	sort.Strings(out)
	return out
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0:0]
	for _, x := range s {
		if x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
