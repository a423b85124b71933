// Package network gives compose networks to berth's containers: a Linux
// bridge per network, a veth pair per container and network created with its
// peer directly in the container's network namespace, addresses from
// network/ipam, outbound NAT, isolation and published ports in nftables
// (network/nft), and an embedded DNS server per container (network/dns).
//
// It knows nothing of compose or of the engine: the scheduler translates a
// compose project into Specs, and cmd/berth adapts AttachOptions to the
// engine's Networker interface.
//
// On disk (state.Paths):
//
//	<root>/networks/<name>.json          a network (durable)
//	<root>/networks/lock                 serialises create/remove in one root
//	<run>/networks/leases/<name>.leases  address leases (network/ipam): lock
//	                                     and data in one file, in place
//	<run>/networks/endpoints.{0,1,lock}  the attached containers' records,
//	                                     one table in two files rewritten in
//	                                     place by turns (table.go): an attach's
//	                                     intent (pid, networks, attaching
//	                                     process) goes in before any kernel
//	                                     object is made, so whatever a killed
//	                                     command made can be found and
//	                                     removed, then the complete record,
//	                                     which the DNS servers answer from
//	                                     (re-read when its generation changes)
//	/run/berth-net.lock                  machine-wide: choosing a subnet and
//	                                     creating its bridge
//	/run/berth-nft.lock                  machine-wide: nftables batches
//
// Kernel objects are named as berth's: bridges "berth" + 10 hex digits of
// the network ID, host-side veths "bv" + 12 hex digits, tables `ip berth`
// and `ip6 berth`. A bridge's alias records the root and the network that
// own it, so that Sweep removes only its own root's leftovers.
//
// Nothing on an attach's path creates, renames or removes a file: the run
// directory may sit on a busy disk, where each metadata operation costs.
//
// Invariants: Create, Attach and Remove roll back what they made on error;
// Detach and Remove treat "already gone" as success; a container is dead when
// the process whose network namespace it used is gone, and Sweep then frees
// everything it held. Published ports are reserved by sockets bound on the
// host and held by the process that called Attach (the container's
// monitor), so that no other program can take a published port while the
// container runs; the traffic itself goes through nftables DNAT, or through
// a userland proxy on those sockets when Options.UserlandProxy is set.
package network
