package contract_test

import (
	"errors"
	"testing"

	"github.com/lgsp-bus/lgsp/connectors/contract"
)

func TestTopicNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{contract.CanonicalTopic("land.land_use_right", 1), "land.land_use_right.v1"},
		{contract.DeliveryTopic("vss", "civil_status.birth_registration"), "deliver.vss.civil_status.birth_registration"},
		{contract.DeadLetterTopic("land"), "dlq.land"},
		{contract.FeedbackTopic("tax"), "feedback.tax"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestWireFormatRoundTrip(t *testing.T) {
	v := append(contract.AppendWire(nil, 70000), `{"a":1}`...)
	id, payload, err := contract.SplitWire(v)
	if err != nil || id != 70000 || string(payload) != `{"a":1}` {
		t.Fatalf("got %d %q %v", id, payload, err)
	}
	for _, bad := range [][]byte{nil, {0, 0, 0}, {1, 0, 0, 0, 1, 'x'}} {
		if _, _, err := contract.SplitWire(bad); !errors.Is(err, contract.ErrNotWireFormat) {
			t.Errorf("SplitWire(%v) = %v", bad, err)
		}
	}
}

func FuzzSplitWire(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, '{', '}'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, v []byte) {
		id, p, err := contract.SplitWire(v)
		if err == nil && (len(p) != len(v)-5 || id < 0) {
			t.Fatal("inconsistent split")
		}
	})
}
