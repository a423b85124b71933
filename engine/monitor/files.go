package monitor

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berthdev/berth/engine/netspec"
)

// hostResolvConf is the host's resolver configuration.
const hostResolvConf = "/etc/resolv.conf"

// embeddedDNS is the address of the per-container resolver the networker
// serves in bridge mode.
const embeddedDNS = "127.0.0.11"

// writeFiles writes the container's /etc/hosts, /etc/hostname and
// /etc/resolv.conf into dir (the container's persistent directory), before
// the init bind-mounts them. They are rewritten in place (same inode) so a
// restart of a running container's files is seen through the bind mounts.
func writeFiles(dir string, cfg *Config, res netspec.AttachResult, embedded bool) error {
	hostname := cfg.Hostname
	if hostname == "" {
		hostname = cfg.Init.Hostname
	}
	if err := writeInPlace(filepath.Join(dir, HostnameFile), []byte(hostname+"\n")); err != nil {
		return err
	}
	if err := writeInPlace(filepath.Join(dir, HostsFile), hostsFile(cfg, hostname, res)); err != nil {
		return err
	}
	host, _ := os.ReadFile(hostResolvConf)
	return writeInPlace(filepath.Join(dir, ResolvConfFile), resolvConf(host, cfg.Network, embedded))
}

// hostsFile is docker's /etc/hosts: localhost entries, extra_hosts and the
// networker's extra lines, then the container's own address and names.
func hostsFile(cfg *Config, hostname string, res netspec.AttachResult) []byte {
	var b bytes.Buffer
	if cfg.Network.Mode == "host" {
		if data, err := os.ReadFile("/etc/hosts"); err == nil {
			b.Write(data)
			if len(data) > 0 && data[len(data)-1] != '\n' {
				b.WriteByte('\n')
			}
		}
	} else {
		b.WriteString("127.0.0.1\tlocalhost\n")
		b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
		b.WriteString("fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	}
	for _, eh := range cfg.Network.ExtraHosts {
		name, ip, ok := splitExtraHost(eh)
		if !ok || ip == "host-gateway" {
			continue // host-gateway is resolved by the networker into res.Hosts
		}
		b.WriteString(ip + "\t" + name + "\n")
	}
	for _, h := range res.Hosts {
		b.WriteString(h + "\n")
	}
	names := []string{hostname}
	if cfg.Init.Domainname != "" {
		names = []string{hostname + "." + cfg.Init.Domainname, hostname}
	}
	wrote := false
	for _, iface := range cfg.Network.Interfaces {
		a, ok := res.Networks[iface.Network]
		if !ok || a.IPAddress == "" {
			continue
		}
		b.WriteString(a.IPAddress + "\t" + strings.Join(names, " ") + "\n")
		if a.IPv6Address != "" {
			b.WriteString(a.IPv6Address + "\t" + strings.Join(names, " ") + "\n")
		}
		wrote = true
		break
	}
	if !wrote && cfg.Network.Mode != "host" && hostname != "" {
		// No address of its own (network_mode none): docker still lets the
		// container resolve its own name.
		b.WriteString("127.0.0.1\t" + strings.Join(names, " ") + "\n")
	}
	return b.Bytes()
}

// splitExtraHost splits "name:ip" or "name=ip" (IPv6 addresses keep their
// colons).
func splitExtraHost(s string) (name, ip string, ok bool) {
	if i := strings.IndexByte(s, '='); i > 0 {
		return s[:i], s[i+1:], true
	}
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return "", "", false
	}
	return s[:i], strings.Trim(s[i+1:], "[]"), true
}

// resolvConf is the container's /etc/resolv.conf. With the embedded
// resolver: nameserver 127.0.0.11 and options ndots:0 (docker's), keeping
// the host's search domains. Otherwise the host's file without loopback
// nameservers (unreachable from another network namespace), unless the
// container shares the host's network. Explicit dns, dns_search and
// dns_opt replace the corresponding lines.
func resolvConf(host []byte, ns netspec.NetworkSpec, embedded bool) []byte {
	var servers, search, options []string
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if ns.Mode != "host" {
				if a, err := netip.ParseAddr(f[1]); err == nil && a.IsLoopback() {
					continue
				}
			}
			servers = append(servers, f[1])
		case "search", "domain":
			search = f[1:]
		case "options":
			options = append(options, f[1:]...)
		}
	}
	if embedded {
		servers = []string{embeddedDNS}
		options = slices.DeleteFunc(options, func(o string) bool { return strings.HasPrefix(o, "ndots:") })
		options = append(options, "ndots:0")
	}
	if len(ns.DNS) > 0 && !embedded {
		servers = ns.DNS
	}
	if len(ns.DNSSearch) > 0 {
		search = ns.DNSSearch
	}
	if len(ns.DNSOptions) > 0 {
		options = ns.DNSOptions
	}
	var b bytes.Buffer
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(search) > 0 {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	if len(options) > 0 {
		b.WriteString("options " + strings.Join(options, " ") + "\n")
	}
	return b.Bytes()
}

// writeInPlace replaces path's content keeping its inode (a bind mount of
// it stays valid).
func writeInPlace(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
