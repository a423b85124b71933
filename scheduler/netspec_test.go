package scheduler

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/compose"
)

const netspecYAML = `
services:
  web:
    image: 127.0.0.1:5000/busybox:1
    ports:
      - "8080:80"
      - "127.0.0.1:8443:443"
      - "9000-9001:9000-9001"
      - "7000-7010:7000"
      - "53/udp"
      - "3000"
      - target: 5000
        published: "5001"
        host_ip: 0.0.0.0
        protocol: tcp
        mode: host
      - "[::]:6000:6000"
    expose: ["9999"]
    networks:
      front:
        aliases: [www, site]
        priority: 10
      back:
        ipv4_address: 172.30.0.10
        mac_address: "02:42:ac:1e:00:0a"
        gw_priority: 5
    dns: [1.1.1.1]
    dns_search: [example.com]
    dns_opt: [ndots:2]
    extra_hosts:
      - "host.docker.internal:host-gateway"
      - "db.local=10.0.0.5"
  api:
    image: 127.0.0.1:5000/busybox:1
    links: ["db:database", "web"]
    mac_address: "02:42:00:00:00:99"
  db:
    image: 127.0.0.1:5000/busybox:1
  sidecar:
    image: 127.0.0.1:5000/busybox:1
    network_mode: service:web
  tool:
    image: 127.0.0.1:5000/busybox:1
    network_mode: container:some-container
  isolated:
    image: 127.0.0.1:5000/busybox:1
    network_mode: none
    dns: [1.1.1.1]
  ext:
    image: 127.0.0.1:5000/busybox:1
    networks: [outside]
  hostnet:
    image: 127.0.0.1:5000/busybox:1
    network_mode: host
    ports: ["80:80"]
networks:
  front:
    labels: {team: web}
  back:
    internal: true
    enable_ipv6: true
    driver_opts:
      com.docker.network.driver.mtu: "1400"
    ipam:
      config:
        - subnet: 172.30.0.0/16
          gateway: 172.30.0.254
          ip_range: 172.30.5.0/24
  outside:
    external: true
    name: shared-net
`

func TestNetworkSpecsGolden(t *testing.T) {
	p := loadComposeProject(t, netspecYAML)
	nets, err := projectNetworks(p)
	if err != nil {
		t.Fatal(err)
	}
	for i := range nets {
		if h := nets[i].Labels[compose.LabelConfigHash]; h != "" {
			nets[i].Labels[compose.LabelConfigHash] = "<hash>"
		}
	}
	out := map[string]any{"networks": nets}
	lookup := func(s string) (string, error) {
		if s == "web" {
			return "0123456789ab", nil
		}
		return "", errors.New("no container")
	}
	svcs := map[string]any{}
	for _, name := range sortedKeys(p.Services) {
		spec, err := serviceNetworkSpec(p, p.Services[name], "app-"+name+"-1", lookup)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		svcs[name] = spec
	}
	out["services"] = svcs
	got, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "netspec.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(want)) != strings.TrimSpace(string(got)) {
		t.Errorf("network specs differ from %s (run with -update to accept):\n%s", golden, got)
	}
}

func TestNetworkSpecErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		kind       func(error) bool
		text       string
	}{
		{"service:X without a container", `
services:
  a: {image: x, network_mode: "service:b"}
  b: {image: x}
`, errdefs.IsNotFound, "service b"},
		{"sctp port", `
services:
  a: {image: x, ports: ["5000:5000/sctp"]}
`, errdefs.IsNotImplemented, "sctp"},
		{"ipam driver", `
services:
  a: {image: x, networks: [n]}
networks:
  n: {ipam: {driver: dhcp}}
`, errdefs.IsNotImplemented, "dhcp"},
	}
	lookup := func(s string) (string, error) { return "", errdefs.ErrNotFound }
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := loadComposeProject(t, tc.yaml)
			_, err := projectNetworks(p)
			if err == nil {
				for _, name := range sortedKeys(p.Services) {
					if _, err = serviceNetworkSpec(p, p.Services[name], name, lookup); err != nil {
						break
					}
				}
			}
			if err == nil || !tc.kind(err) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want one naming %q", err, tc.text)
			}
		})
	}
}
