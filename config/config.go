// Package config holds commentd's default configuration file, which is also
// compiled into the binary so that it runs with no file at all.
package config

import _ "embed"

// DefaultYAML is the content of commentd.yaml in this directory.
//
//go:embed commentd.yaml
var DefaultYAML []byte
