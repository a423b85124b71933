package compose

import "fmt"

// Files returns the compose files and env files that opts select (-f,
// COMPOSE_FILE, or the compose.yaml found from the project directory up),
// without reading them: callers use it to key caches on the files'
// contents.
func Files(opts LoadOptions) (files, envFiles []string, err error) {
	po, err := projectOptions(opts)
	if err != nil {
		return nil, nil, err
	}
	if len(po.ConfigPaths) == 0 {
		return nil, nil, fmt.Errorf("no configuration file provided")
	}
	return po.ConfigPaths, po.EnvFiles, nil
}
