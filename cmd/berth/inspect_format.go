package main

import (
	"encoding/json"
	"fmt"
	"io"
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
