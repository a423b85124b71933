// Package netspec holds the networking part of a container's description
// and the request and result types of network attachment. It is a leaf (no
// imports of berth packages) so that both engine, which re-exports every
// type here under the same name, and engine/monitor, which must not import
// engine, speak the same types: a single adapter in cmd/berth then
// satisfies both engine.Networker and monitor.Networker.
package netspec

// NetworkSpec is how a container is networked.
type NetworkSpec struct {
	// Mode is "bridge" (Interfaces), "none", "host", or "container:<id>".
	Mode string `json:"mode"`
	// Interfaces are the networks to join in bridge mode, in priority order
	// (the first one gives the default route).
	Interfaces []Interface `json:"interfaces,omitempty"`
	// Ports are the published ports.
	Ports []PortBinding `json:"ports,omitempty"`
	// DNS, DNSSearch and DNSOptions go into /etc/resolv.conf (the embedded
	// resolver 127.0.0.11 is used when DNS is empty and the mode is bridge).
	DNS        []string `json:"dns,omitempty"`
	DNSSearch  []string `json:"dns_search,omitempty"`
	DNSOptions []string `json:"dns_options,omitempty"`
	// ExtraHosts are "name:ip" lines for /etc/hosts ("host-gateway" is
	// resolved by the networker).
	ExtraHosts []string `json:"extra_hosts,omitempty"`
}

// Interface is one network the container joins.
type Interface struct {
	// Network is the network's name (e.g. "myapp_default").
	Network string `json:"network"`
	// Aliases are the DNS names the container answers to on this network
	// (service name, container name, compose aliases, links).
	Aliases []string `json:"aliases,omitempty"`
	// IPv4Address and IPv6Address request fixed addresses; empty means
	// allocate one.
	IPv4Address string `json:"ipv4_address,omitempty"`
	IPv6Address string `json:"ipv6_address,omitempty"`
	MacAddress  string `json:"mac_address,omitempty"`
}

// PortBinding publishes one container port.
type PortBinding struct {
	HostIP   string `json:"host_ip,omitempty"`   // "" means all addresses
	HostPort uint16 `json:"host_port,omitempty"` // 0 means a random free port
	// HostPortEnd > HostPort asks for the first free port of the range
	// HostPort-HostPortEnd (compose "8000-8010:80").
	HostPortEnd   uint16 `json:"host_port_end,omitempty"`
	ContainerPort uint16 `json:"container_port"`
	Protocol      string `json:"protocol,omitempty"` // "tcp" (default) or "udp"
}

// NetworkAttachment is a container's place on one network.
type NetworkAttachment struct {
	Network     string   `json:"network"`
	IPAddress   string   `json:"ip_address"` // "172.18.0.2"
	PrefixLen   int      `json:"prefix_len"` // 16
	Gateway     string   `json:"gateway"`    // "172.18.0.1"
	IPv6Address string   `json:"ipv6_address,omitempty"`
	MacAddress  string   `json:"mac_address"`
	Aliases     []string `json:"aliases,omitempty"`
}

// AttachRequest is one container's networking, resolved.
type AttachRequest struct {
	ContainerID   string
	ContainerName string
	// Project is the compose project (for rule ownership and cleanup).
	Project string
	// Pid is the container init's pid on the host (its netns is /proc/PID/ns/net).
	Pid  int
	Spec NetworkSpec
}

// AttachResult is what Attach made.
type AttachResult struct {
	Networks map[string]NetworkAttachment
	Ports    []PortBinding
	// Hosts are extra /etc/hosts lines ("ip name…"), e.g. host-gateway.
	Hosts []string
}
