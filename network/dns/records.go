// Package dns is berth's embedded resolver: one server per container,
// listening on 127.0.0.11:53 (UDP and TCP) inside the container's network
// namespace, answering the names of the containers that share a network
// with it and forwarding every other name to upstream resolvers from the
// host's namespace (so a host resolver on 127.0.0.53 works).
//
// Records come from a Source the caller provides (the network package
// derives them from its endpoint records, re-read when their generation changes), so
// names appear when a container attaches and disappear when it detaches,
// without signalling anyone. Answers for container
// names have TTL 0 (the addresses change when containers are re-created);
// several containers with one name (replicas of a service) all answer, in
// random order; a name that exists with no IPv6 address gets an empty
// NOERROR (NODATA) answer to AAAA, never NXDOMAIN.
package dns

// Record is one container's names and addresses on one network.
type Record struct {
	// ID is the container ID; Name the container name.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Names are every name the container answers to on this network
	// (container name, service name, aliases), lower case.
	Names []string `json:"names"`
	IPv4  string   `json:"ipv4,omitempty"`
	IPv6  string   `json:"ipv6,omitempty"`
}

// Source gives the current records of a network. It is called for every
// query, concurrently: it must be cheap when nothing changed.
type Source interface {
	Records(network string) []Record
}
