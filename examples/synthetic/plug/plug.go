// Package plug plugs the synthetic world of connectors/synthetic into a bus:
// the register's population and, with synthetic.enabled, one synthetic
// connector per source, built by the bus like any configured connector.
// lgsp dev and the tests that start a dev bus use it; the bus itself
// imports no example.
package plug

import (
	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
)

// Synthetic returns o with the synthetic population and dev connectors of
// o.Config.Synthetic.
func Synthetic(o runtime.Options) runtime.Options {
	o.Population = synthetic.RegisteredCitizen
	sc := o.Config.Synthetic
	o.DevConnectors = func(sources []string) []config.Connector {
		var out []config.Connector
		for _, c := range synthetic.Streams(sources, sc.Seed, sc.Population, sc.RatePerSecond, sc.Limit) {
			out = append(out, config.Connector{Name: c.Source, Adapter: synthetic.AdapterName, Config: c.Raw()})
		}
		return out
	}
	return o
}
