package compose

import (
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// ComposeVersion is the Docker Compose version whose behaviour berth
// follows; it is the value of LabelVersion on what berth creates.
const ComposeVersion = "2.40.3"

// Labels docker compose sets on containers, networks and volumes; berth sets
// the same so that tools that know docker compose read berth's objects.
const (
	// LabelProject names the project of a container, network or volume.
	LabelProject = "com.docker.compose.project"
	// LabelService names a container's service.
	LabelService = "com.docker.compose.service"
	// LabelNumber is a container's index within its service, from 1.
	LabelNumber = "com.docker.compose.container-number"
	// LabelConfigHash is ServiceHash of the config a container was made from.
	LabelConfigHash = "com.docker.compose.config-hash"
	// LabelOneoff is "True" on `run` containers, "False" otherwise.
	LabelOneoff = "com.docker.compose.oneoff"
	// LabelSlug is the unique id of a one-off container.
	LabelSlug = "com.docker.compose.slug"
	// LabelWorkingDir is the project's absolute working directory.
	LabelWorkingDir = "com.docker.compose.project.working_dir"
	// LabelConfigFiles lists the project's compose files, comma separated.
	LabelConfigFiles = "com.docker.compose.project.config_files"
	// LabelEnvironmentFile lists the --env-file files, comma separated.
	LabelEnvironmentFile = "com.docker.compose.project.environment_file"
	// LabelDependsOn is a container's dependencies,
	// "service:condition:restart" comma separated.
	LabelDependsOn = "com.docker.compose.depends_on"
	// LabelImage is the digest of the image a container runs.
	LabelImage = "com.docker.compose.image"
	// LabelVersion is the compose version that made the object.
	LabelVersion = "com.docker.compose.version"
	// LabelNetwork is a network's key in the project's networks.
	LabelNetwork = "com.docker.compose.network"
	// LabelVolume is a volume's key in the project's volumes.
	LabelVolume = "com.docker.compose.volume"
	// LabelReplace names the container a new one replaces (recreate).
	LabelReplace = "com.docker.compose.replace"
)

// Separator joins the parts of the names berth derives (project, service,
// number).
const Separator = "-"

// ContainerName is the default name of a service's container number
// (from 1): "project-service-1".
func ContainerName(project, service string, number int) string {
	return strings.Join([]string{project, service, strconv.Itoa(number)}, Separator)
}

// ServiceContainerName is the service's container_name when set, else
// ContainerName.
func ServiceContainerName(project string, svc types.ServiceConfig, number int) string {
	if svc.ContainerName != "" {
		return svc.ContainerName
	}
	return ContainerName(project, svc.Name, number)
}

// OneoffName is the name of a `run` container: "project-service-run-<id>",
// id truncated to 12 characters as docker compose does with its slug.
func OneoffName(project, service, id string) string {
	if len(id) > 12 {
		id = id[:12]
	}
	return strings.Join([]string{project, service, "run", id}, Separator)
}

// ImageName is the service's image, or "project-service" for a service that
// only has a build section (the name docker compose tags built images with).
func ImageName(project string, svc types.ServiceConfig) string {
	if svc.Image != "" {
		return svc.Image
	}
	return project + Separator + svc.Name
}

// DependsOnLabel renders a service's depends_on as LabelDependsOn's value,
// "service:condition:restart" entries sorted by service.
func DependsOnLabel(svc types.ServiceConfig) string {
	deps := make([]string, 0, len(svc.DependsOn))
	for name, d := range svc.DependsOn {
		deps = append(deps, name+":"+d.Condition+":"+strconv.FormatBool(d.Restart))
	}
	sortStrings(deps)
	return strings.Join(deps, ",")
}
