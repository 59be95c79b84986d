package quality

import (
	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/connectors"
)

// MaskJSON exposes maskJSON to the fuzz target.
var MaskJSON = maskJSON

// ItemRecord exposes itemRecord, with q's view of the record's dataset.
func ItemRecord(q *Quality, r *connectors.Record, res *pipeline.RecordResult) []byte {
	return itemRecord(r, res, q.datasets[r.Dataset])
}
