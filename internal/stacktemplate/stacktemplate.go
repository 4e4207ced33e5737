// Package stacktemplate holds WsgateStack's template as this module's CDK
// app synthesizes it, in one copy: test/snapshot keeps the file current
// (its golden test fails on any drift; `go test ./test/snapshot -update`
// rewrites it), and the local gateway's tests, the benchmarks and the
// CLI's tests read it from here, so none of them needs a synth.
//
// The file is the snapshot's normalized form: asset hashes read
// <asset-hash>, and the CDK's bootstrap parameter, rules and "aws:"
// metadata are left out. None of these matter to the WebSocket API.
package stacktemplate

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
)

// FileName is the template's file name in this directory.
const FileName = "WsgateStack.template.json"

// JSON is the template's text.
//
//go:embed WsgateStack.template.json
var JSON []byte

// WriteFile writes the template to dir and returns its path, for code
// that loads templates from files.
func WriteFile(dir string) (string, error) {
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, JSON, 0o644); err != nil {
		return "", fmt.Errorf("writing the stack template: %w", err)
	}
	return path, nil
}
