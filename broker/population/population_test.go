package population

import (
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store"
)

func TestCitizenFromRow(t *testing.T) {
	base := func(extra map[string]any) map[string]any {
		row := map[string]any{"personal_id": "001090012345", "old_cmnd": nil, "full_name": "Lê Thị Hoa", "dob": "1990-01-02", "sex": "F", "birth_province": "001", "deceased": true}
		for k, v := range extra {
			row[k] = v
		}
		return row
	}
	dead := store.Citizen{ID: "001090012345", FullName: "Lê Thị Hoa", DOB: "1990-01-02", Sex: "F", BirthProvince: "001", Deceased: true}
	withHome := dead
	withHome.Residence = "Số 12 Lê Lợi, Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh"
	withOld := dead
	withOld.OldID = "012345678"
	for _, tc := range []struct {
		name string
		row  map[string]any
		want store.Citizen
		ok   bool
	}{
		{"no residence", base(nil), dead, true},
		{"null residence", base(map[string]any{"residence": nil}), dead, true},
		{"residence", base(map[string]any{"residence": withHome.Residence}), withHome, true},
		{"old number", base(map[string]any{"old_cmnd": "012345678"}), withOld, true},
		{"no personal number", map[string]any{"full_name": "x", "residence": "Thôn Đông"}, store.Citizen{FullName: "x", Residence: "Thôn Đông"}, false},
	} {
		got, ok := Citizen(tc.row)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: Citizen = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
