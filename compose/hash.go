package compose

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"
)

// ServiceHash is the configuration hash of a service, equal to docker
// compose's (LabelConfigHash): the SHA-256 of the service's JSON without
// the keys that do not change a container (build, pull_policy, scale,
// deploy.replicas, depends_on, profiles). svc is a copy; the caller's value
// is not modified.
func ServiceHash(svc types.ServiceConfig) (string, error) {
	svc.Build = nil
	svc.PullPolicy = ""
	svc.Scale = nil
	if svc.Deploy != nil {
		d := *svc.Deploy
		d.Replicas = nil
		svc.Deploy = &d
	}
	svc.DependsOn = nil
	svc.Profiles = nil
	b, err := json.Marshal(svc)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func sortStrings(s []string) { slices.Sort(s) }
