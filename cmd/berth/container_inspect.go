package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/engine"
)

func (c *cli) newContainerInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runContainerInspect(cmd.Context(), args, format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a Go template, or \"json\"")
	return cmd
}

func (c *cli) runContainerInspect(ctx context.Context, names []string, format string) error {
	eng, err := c.engine(ctx)
	if err != nil {
		return err
	}
	var out []any
	failed := false
	for _, n := range names {
		ct, err := eng.Inspect(ctx, n)
		if err != nil {
			fmt.Fprintln(c.stderr, "Error: No such container:", n)
			failed = true
			continue
		}
		out = append(out, dockerInspect(ct))
	}
	if format != "" && format != "json" {
		if err := formatEach(c.stdout, format, len(out), func(i int) any { return out[i] }); err != nil {
			return err
		}
	} else {
		if out == nil {
			out = []any{}
		}
		data, err := json.MarshalIndent(out, "", "    ")
		if err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, string(data))
	}
	if failed {
		return &exitError{code: 1}
	}
	return nil
}

// formatEach renders n values with a docker-style --format template
// ("json" prints each as a JSON line).
func formatEach(w io.Writer, format string, n int, value func(i int) any) error {
	if format == "json" {
		for i := range n {
			data, err := json.Marshal(value(i))
			if err != nil {
				return err
			}
			fmt.Fprintln(w, string(data))
		}
		return nil
	}
	format = strings.TrimPrefix(format, "table ")
	tmpl, err := template.New("format").Funcs(template.FuncMap{
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"join":  strings.Join,
		"upper": strings.ToUpper,
		"lower": strings.ToLower,
	}).Parse(format)
	if err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	for i := range n {
		if err := tmpl.Execute(w, value(i)); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	return nil
}

// dockerInspect shapes a container as `docker inspect` does (the fields
// scripts read: Id, Name, State, Config.Labels, NetworkSettings, …), plus
// State.MonitorAlive.
func dockerInspect(ct *engine.Container) map[string]any {
	s := ct.Spec
	st := ct.State
	state := map[string]any{
		"Status": string(st.Status), "Running": st.Running, "Paused": st.Paused,
		"Restarting": st.Restarting, "OOMKilled": st.OOMKilled, "Dead": st.Status == engine.StatusDead,
		"Pid": st.Pid, "ExitCode": st.ExitCode, "Error": st.Error,
		"StartedAt": dockerTime(st.StartedAt), "FinishedAt": dockerTime(st.FinishedAt),
		"MonitorAlive": st.MonitorAlive,
	}
	if h := st.Health; h != nil {
		var log []map[string]any
		for _, p := range h.Log {
			log = append(log, map[string]any{"Start": p.Start, "End": p.End, "ExitCode": p.ExitCode, "Output": p.Output})
		}
		state["Health"] = map[string]any{"Status": h.Status, "FailingStreak": h.FailingStreak, "Log": log}
	}
	labels := s.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	var hc any
	if s.Healthcheck != nil {
		hc = map[string]any{"Test": s.Healthcheck.Test, "Interval": s.Healthcheck.Interval, "Timeout": s.Healthcheck.Timeout,
			"StartPeriod": s.Healthcheck.StartPeriod, "StartInterval": s.Healthcheck.StartInterval, "Retries": s.Healthcheck.Retries}
	}
	networks := map[string]any{}
	for name, a := range ct.Networks {
		networks[name] = map[string]any{"IPAddress": a.IPAddress, "IPPrefixLen": a.PrefixLen, "Gateway": a.Gateway,
			"GlobalIPv6Address": a.IPv6Address, "MacAddress": a.MacAddress, "Aliases": a.Aliases}
	}
	ports := map[string]any{}
	for _, p := range ct.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		key := strconv.Itoa(int(p.ContainerPort)) + "/" + proto
		list, _ := ports[key].([]map[string]string)
		ports[key] = append(list, map[string]string{"HostIp": p.HostIP, "HostPort": strconv.Itoa(int(p.HostPort))})
	}
	restart := s.Restart.Name
	if restart == "" {
		restart = "no"
	}
	mounts := []map[string]any{}
	for _, m := range s.Mounts {
		typ := m.Type
		if m.Volume != "" {
			typ = "volume"
		}
		mounts = append(mounts, map[string]any{"Type": typ, "Name": m.Volume, "Source": m.Source, "Destination": m.Target, "RW": !m.ReadOnly})
	}
	return map[string]any{
		"Id": ct.ID, "Created": dockerTime(ct.Created), "Path": ct.Path, "Args": ct.Args,
		"State": state, "Image": ct.ImageID, "Name": "/" + ct.Name, "RestartCount": st.RestartCount,
		"Mounts": mounts,
		"Config": map[string]any{
			"Hostname": s.Hostname, "Domainname": s.Domainname, "User": s.User, "Tty": s.Tty, "OpenStdin": s.OpenStdin,
			"Env": s.Env, "Cmd": s.Cmd, "Entrypoint": s.Entrypoint, "Image": s.Image, "WorkingDir": s.WorkingDir,
			"Labels": labels, "StopSignal": s.StopSignal, "Healthcheck": hc,
		},
		"HostConfig": map[string]any{
			"NetworkMode": s.Network.Mode, "RestartPolicy": map[string]any{"Name": restart, "MaximumRetryCount": s.Restart.MaxRetries},
			"AutoRemove": s.AutoRemove, "Privileged": s.Privileged, "CapAdd": s.CapAdd, "CapDrop": s.CapDrop,
			"Memory": s.Resources.Memory, "NanoCpus": s.Resources.NanoCPUs, "PidsLimit": s.Resources.PidsLimit,
			"ReadonlyRootfs": s.ReadOnly, "Init": s.Init, "LogConfig": map[string]any{"Type": logDriver(s.Logging.Driver), "Config": s.Logging.Options},
		},
		"NetworkSettings": map[string]any{"Networks": networks, "Ports": ports},
	}
}

func logDriver(d string) string {
	if d == "" {
		return "json-file"
	}
	return d
}

// dockerTime is docker's time format, with the zero time as docker shows it.
func dockerTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
