package registry

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestCompatibilityModes: every level against the same history, where the
// latest version and the transitive history disagree, and where the
// backward and forward directions disagree. Transitive levels skip
// soft-deleted versions.
func TestCompatibilityModes(t *testing.T) {
	const (
		v1    = `{"type":"record","name":"T","fields":[{"name":"x","type":"int"}]}`
		v2    = `{"type":"record","name":"T","fields":[{"name":"x","type":"long"}]}`
		addY  = `{"type":"record","name":"T","fields":[{"name":"x","type":"long"},{"name":"y","type":"int","default":0}]}`
		toDbl = `{"type":"record","name":"T","fields":[{"name":"x","type":"double"}]}`
		jv1   = `{"type":"integer"}`
		jv2   = `{"type":"number"}`
		jNull = `{"type":["number","null"]}`
	)
	modes := []string{CompatNone, CompatBackward, CompatBackwardTransitive, CompatForward,
		CompatForwardTransitive, CompatFull, CompatFullTransitive}
	cases := []struct {
		name        string
		typ         string
		history     []string
		deleteFirst bool
		candidate   string
		want        []bool // per mode, in the order of modes
	}{
		// addY: new reads everything; v1 (int) cannot read the long it writes.
		{"avro field added, widened earlier", "AVRO", []string{v1, v2}, false, addY,
			[]bool{true, true, true, true, false, true, false}},
		{"avro transitive skips soft-deleted", "AVRO", []string{v1, v2}, true, addY,
			[]bool{true, true, true, true, true, true, true}},
		// toDbl: reads long and int; long readers cannot read double.
		{"avro widened to double", "AVRO", []string{v1, v2}, false, toDbl,
			[]bool{true, true, true, false, false, false, false}},
		{"json type widened with null", "JSON", []string{jv1, jv2}, false, jNull,
			[]bool{true, true, true, false, false, false, false}},
		// Narrowed back to integer: cannot read the numbers v2 wrote, but
		// every reader can read what it writes. (Not v1's text itself: a
		// schema the subject has is returned as is, with no check.)
		{"json narrowed back to integer", "JSON", []string{jv1, jv2}, false, `{"type":"integer","title":"back"}`,
			[]bool{true, false, false, true, true, false, false}},
	}
	ctx := context.Background()
	for _, tc := range cases {
		for i, mode := range modes {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				r := New(newMemStore())
				if _, err := r.SetCompatibility(ctx, "s", CompatNone); err != nil {
					t.Fatal(err)
				}
				for _, h := range tc.history {
					mustRegister(t, r, "s", tc.typ, h)
				}
				if tc.deleteFirst {
					if _, err := r.DeleteVersion(ctx, "s", 1, false); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := r.SetCompatibility(ctx, "s", mode); err != nil {
					t.Fatal(err)
				}
				ok, msgs, err := r.CheckCompatibility(ctx, "s", 0, RegisterRequest{SchemaType: tc.typ, Schema: tc.candidate})
				if err != nil {
					t.Fatal(err)
				}
				if ok != tc.want[i] {
					t.Fatalf("compatible = %v (%v), want %v", ok, msgs, tc.want[i])
				}
				_, _, err = r.Register(ctx, "s", tc.typ, tc.candidate)
				if tc.want[i] && err != nil {
					t.Fatalf("Register: %v", err)
				}
				if !tc.want[i] && !errors.Is(err, ErrIncompatibleSchema) {
					t.Fatalf("Register err = %v, want 409", err)
				}
			})
		}
	}
}

// TestConcurrentIncompatibleRegistrations: registrations racing on one
// subject are checked one after the other, so of mutually incompatible
// schemas exactly one gets in.
func TestConcurrentIncompatibleRegistrations(t *testing.T) {
	r := New(newMemStore())
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, _, err := r.Register(context.Background(), "race-value", TypeAvro,
				fmt.Sprintf(`{"type":"record","name":"R%d","fields":[]}`, i))
			errs <- err
		}()
	}
	ok := 0
	for range n {
		err := <-errs
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrIncompatibleSchema):
			t.Fatalf("err = %v, want nil or 409", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d registrations got in, want exactly 1", ok)
	}
}
