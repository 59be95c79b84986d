package identity

import "github.com/lgsp-bus/lgsp/broker/internal/cputime"

var cpuTime = cputime.Process
