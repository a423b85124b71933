package main

import (
	"encoding/json"
	"fmt"
	"io"
)

// The --format help of list and inspect commands, as docker prints it.
const (
	formatHelpList    = "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template"
	formatHelpInspect = "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template"
)

// printInspect prints the documents of an `inspect` command as docker
// does: an indented JSON array by default (or with --format json, `[]` when
// nothing was found), else each document through the --format template.
func printInspect[T any](w io.Writer, format string, docs []T) error {
	if format == "" || format == "json" {
		if docs == nil {
			docs = []T{}
		}
		b, err := json.MarshalIndent(docs, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	items := make([]any, len(docs))
	for i, d := range docs {
		items[i] = d
	}
	return writeTemplate(w, format, items, nil)
}
