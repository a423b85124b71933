package scheduler

// The com.docker.compose.* labels berth puts on what it creates, exactly
// as docker compose names them, so that tools reading them (and a user's
// habits) carry over.
const (
	LabelProject     = "com.docker.compose.project"
	LabelService     = "com.docker.compose.service"
	LabelNumber      = "com.docker.compose.container-number"
	LabelConfigHash  = "com.docker.compose.config-hash"
	LabelOneoff      = "com.docker.compose.oneoff"
	LabelWorkingDir  = "com.docker.compose.project.working_dir"
	LabelConfigFiles = "com.docker.compose.project.config_files"
	LabelEnvFile     = "com.docker.compose.project.environment_file"
	LabelDependsOn   = "com.docker.compose.depends_on"
	LabelImage       = "com.docker.compose.image"
	LabelVersion     = "com.docker.compose.version"
	LabelNetwork     = "com.docker.compose.network"
	LabelVolume      = "com.docker.compose.volume"
	LabelSlug        = "com.docker.compose.slug"
	LabelReplace     = "com.docker.compose.replace"
)

// composeVersion is the version berth reports in com.docker.compose.version:
// the docker compose release whose behaviour it follows.
const composeVersion = "2.40.3"
