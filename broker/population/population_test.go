package population

import "testing"

func TestCitizenFromRow(t *testing.T) {
	c, ok := Citizen(map[string]any{"personal_id": "001090012345", "old_cmnd": nil, "full_name": "Lê Thị Hoa", "dob": "1990-01-02", "sex": "F", "birth_province": "001", "deceased": true})
	if !ok || c.ID != "001090012345" || c.OldID != "" || c.FullName != "Lê Thị Hoa" || !c.Deceased || c.BirthProvince != "001" {
		t.Fatalf("%+v", c)
	}
	if _, ok := Citizen(map[string]any{"full_name": "x"}); ok {
		t.Fatal("a row without a personal number must not be applied")
	}
}
