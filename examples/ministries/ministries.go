// Package ministries holds the sample source databases of the five
// ministries that feed the bus (land, tax, insurance, civil status, civil
// servants): for each, the SQL DDL of its tables with the Vietnamese column
// names a ministry uses, a small seed, and the connector config that maps
// its rows onto the shared dataset of schemas/catalog.yaml.
//
// The files are embedded so that `lgsp dev` and the tests can set the
// databases up; a ministry's IT team reads them as a starting point.
package ministries

import (
	"embed"
	"fmt"
	"os"

	"github.com/lgsp-bus/lgsp/connectors"
	"go.yaml.in/yaml/v3"

	// The adapters the configs use.
	_ "github.com/lgsp-bus/lgsp/connectors/pgcdc"
	_ "github.com/lgsp-bus/lgsp/connectors/pgpoll"
)

//go:embed */schema.sql */seed.sql */connector.yaml
var files embed.FS

// Names lists the ministries, as folder names.
var Names = []string{"land", "tax", "insurance", "civil_status", "civil_servant"}

// Ministry is one sample source.
type Ministry struct {
	Name      string
	SchemaSQL string        // DDL: a schema of its own and its tables
	SeedSQL   string        // a few rows
	Connector ConnectorFile // how the bus reads it
}

// ConnectorFile is the content of a connector.yaml: which adapter, under
// which connector name, with which config.
type ConnectorFile struct {
	Connector string         `yaml:"connector"`
	Adapter   string         `yaml:"adapter"`
	Config    map[string]any `yaml:"config"`
}

// Load reads one ministry's files.
func Load(name string) (Ministry, error) {
	m := Ministry{Name: name}
	read := func(f string) (string, error) {
		b, err := files.ReadFile(name + "/" + f)
		return string(b), err
	}
	var err error
	if m.SchemaSQL, err = read("schema.sql"); err != nil {
		return m, fmt.Errorf("ministries: unknown ministry %q: %w", name, err)
	}
	if m.SeedSQL, err = read("seed.sql"); err != nil {
		return m, err
	}
	raw, err := read("connector.yaml")
	if err != nil {
		return m, err
	}
	if err := yaml.Unmarshal([]byte(raw), &m.Connector); err != nil {
		return m, fmt.Errorf("ministries: %s/connector.yaml: %w", name, err)
	}
	return m, nil
}

// Expand replaces ${VAR} in every string of the config with env(VAR)
// (os.Getenv when env is nil), so secrets and URLs stay out of the file.
func (c ConnectorFile) Expand(env func(string) string) map[string]any {
	if env == nil {
		env = os.Getenv
	}
	return expand(c.Config, env).(map[string]any)
}

func expand(v any, env func(string) string) any {
	switch x := v.(type) {
	case string:
		return os.Expand(x, env)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = expand(e, env)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = expand(e, env)
		}
		return out
	}
	return v
}

// Build makes the connector's source with ${VAR}s taken from env.
func (c ConnectorFile) Build(env func(string) string) (connectors.Source, error) {
	spec, ok := connectors.Lookup(c.Adapter)
	if !ok {
		return nil, fmt.Errorf("ministries: connector %s: no adapter named %q", c.Connector, c.Adapter)
	}
	return spec.Build(connectors.Env{Name: c.Connector}, c.Expand(env))
}
