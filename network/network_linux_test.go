package network

import (
	"context"
	"net/netip"
	"testing"

	"github.com/berthdev/berth/network/internal/sandbox"
)

func TestHTTPByNameAndAlias(t *testing.T) {
	e := newEnv(t)
	n := e.network("p_default")
	web := sandbox.Start(t, "http", "hello from web")
	client := sandbox.Start(t, "sleep")
	_, wres := e.attach(web, "p-web-1", []EndpointOptions{{Network: n.Name, Aliases: []string{"web", "www"}}})
	cid, _ := e.attach(client, "p-client-1", []EndpointOptions{{Network: n.Name, Aliases: []string{"client"}}})
	e.serveDNS(cid, client)

	for _, name := range []string{"web", "www", "p-web-1", "WEB", "web.p_default"} {
		body, err := httpFrom(client, "http://"+name+"/")
		if err != nil || body != "hello from web" {
			t.Errorf("GET http://%s/ from client = %q, %v", name, body, err)
		}
	}
	ips, err := sandbox.Resolver(client.Pid, "127.0.0.11:53").LookupNetIP(context.Background(), "ip4", "web")
	if err != nil || len(ips) != 1 || ips[0] != netip.MustParseAddr(wres.Endpoints[0].IPv4) {
		t.Errorf("web = %v, %v; want %s", ips, err, wres.Endpoints[0].IPv4)
	}
}
