package pgvalue

import (
	"fmt"
	"testing"
)

func TestDecode(t *testing.T) {
	for _, c := range []struct {
		oid  uint32
		in   []byte
		want any
	}{
		{Bool, []byte("t"), true},
		{Bool, []byte("f"), false},
		{Int4, []byte("-42"), int64(-42)},
		{Int8, []byte("9007199254740993"), int64(9007199254740993)},
		{Numeric, []byte("120.50"), 120.5},
		{Numeric, []byte("NaN"), "NaN"},
		{Float8, []byte("1e-300"), 1e-300},
		{Date, []byte("2024-02-10"), "2024-02-10"},
		{Timestamptz, []byte("2024-02-10 03:04:05.123456+00"), "2024-02-10T03:04:05.123456Z"},
		{Timestamptz, []byte("2024-02-10 10:04:05+07"), "2024-02-10T03:04:05Z"},
		{Timestamp, []byte("2024-02-10 03:04:05"), "2024-02-10T03:04:05"},
		{JSONB, []byte(`{"a":[1,"x"]}`), map[string]any{"a": []any{1.0, "x"}}},
		{25, []byte("Nguyễn Thị Hoà"), "Nguyễn Thị Hoà"},
		{25, nil, nil},
	} {
		if got := Decode(c.oid, c.in); fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", c.want) {
			t.Errorf("Decode(%d, %q) = %#v, want %#v", c.oid, c.in, got, c.want)
		}
	}
}
