package synthetic

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/connectors/cccd"
	"github.com/lgsp-bus/lgsp/connectors/contract"
)

// generator knows one dataset's row shape (schemas/<source>/…): how to
// create a row for a holder, how an update changes it, and how to break it.
type generator struct {
	dataset            string
	id, name, dob, sex string   // identity fields, as in the catalog; sex "" = none; id "" = names no person
	legacy             bool     // the id field also accepts a 9-digit CMND
	required           []string // required fields other than the key
	want               func(contract.Citizen) bool
	rare               bool // few citizens are wanted: search the register in order (entity)
	create             func(w world, j uint64, c contract.Citizen, r *rng) map[string]any
	update             func(w world, row map[string]any, r *rng)
	wrongType          func(row map[string]any, r *rng)
	badValue           func(row map[string]any, r *rng)
}

var generators = map[string]*generator{
	"land": {
		dataset: "land.land_use_right",
		id:      "holder_cccd", name: "holder_name", dob: "holder_dob",
		legacy:   true,
		required: []string{"parcel_id", "province_code", "area_m2", "land_use_purpose", "holder_cccd", "holder_name", "holder_dob", "issued_on"},
		want:     func(c contract.Citizen) bool { return birthYear(c) <= registerYear-18 },
		create:   landCreate,
		update: func(w world, row map[string]any, r *rng) {
			row["area_m2"] = round(row["area_m2"].(float64)*(0.9+0.2*r.float()), 1) // re-measured
			if r.chance(0.3) {
				row["address"] = address(r, row["province_code"].(string))
			}
			if r.chance(0.1) {
				row["land_use_purpose"] = landPurpose(r) // change of use
			}
		},
		wrongType: func(row map[string]any, r *rng) {
			if r.chance(0.5) {
				row["area_m2"] = fmt.Sprintf("%.1f m2", row["area_m2"])
			} else {
				row["province_code"] = 79 // a number where a code string is due
			}
		},
		badValue: func(row map[string]any, r *rng) {
			if r.chance(0.5) {
				row["land_use_purpose"] = pick(r, []string{"DAT", "ONT1", "ont", "Đất ở"})
			} else {
				row["province_code"] = row["province_code"].(string)[1:] // old 2-digit code
			}
		},
	},
	"tax": {
		dataset: "tax.taxpayer",
		id:      "cccd", name: "full_name", dob: "dob", sex: "sex",
		legacy:   true,
		required: []string{"cccd", "full_name", "dob", "sex", "tax_office", "status", "registered_on"},
		want:     func(c contract.Citizen) bool { return birthYear(c) <= registerYear-18 },
		create:   taxCreate,
		update: func(w world, row map[string]any, r *rng) {
			if r.chance(0.5) {
				row["status"] = pick(r, []string{"ACTIVE", "SUSPENDED", "CLOSED"})
			} else {
				row["address"] = address(r, row["tax_office"].(string)[:3])
			}
		},
		wrongType: func(row map[string]any, r *rng) {
			if r.chance(0.5) {
				row["registered_on"] = int32(20240115)
			} else {
				row["full_name"] = nil
			}
		},
		badValue: func(row map[string]any, r *rng) {
			if r.chance(0.5) {
				row["status"] = pick(r, []string{"INACTIVE", "active", "Đang hoạt động"})
			} else {
				row["sex"] = pick(r, []string{"Nam", "Nữ", "X"})
			}
		},
	},
	"insurance": {
		dataset: "insurance.health_insurance_card",
		id:      "cccd", name: "full_name", dob: "dob", sex: "sex",
		required: []string{"cccd", "full_name", "dob", "sex", "beneficiary_group", "benefit_level", "hospital_code", "valid_from", "valid_to"},
		want:     func(c contract.Citizen) bool { return true },
		create:   insuranceCreate,
		update: func(w world, row map[string]any, r *rng) {
			// renewal, sometimes with a change of primary care facility
			to := mustDate(row["valid_to"].(string))
			row["valid_from"] = to.AddDate(0, 0, 1).Format(dateLayout)
			row["valid_to"] = to.AddDate(1, 0, 0).Format(dateLayout)
			if r.chance(0.4) {
				code := row["hospital_code"].(string)
				row["hospital_code"] = fmt.Sprintf("%s%03d", code[:2], r.between(1, 250))
			}
		},
		wrongType: func(row map[string]any, r *rng) {
			if r.chance(0.5) {
				row["benefit_level"] = fmt.Sprint(row["benefit_level"])
			} else {
				row["valid_to"] = nil
			}
		},
		badValue: func(row map[string]any, r *rng) {
			row["sex"] = pick(r, []string{"Nam", "Nữ", "m", "f"})
		},
	},
	"civil_status": {
		dataset: "civil_status.birth_registration",
		id:      "child_cccd", name: "child_name", dob: "child_dob", sex: "child_sex",
		required: []string{"child_cccd", "child_name", "child_dob", "child_sex", "birth_province", "mother_name", "registered_on"},
		want:     func(c contract.Citizen) bool { return birthYear(c) >= 2010 },
		create:   birthCreate,
		update: func(w world, row map[string]any, r *rng) {
			// acknowledgement of paternity, or a corrected father's name
			row["father_name"] = fatherName(r, row["child_name"].(string), birthYearOf(row["child_dob"].(string)), row["birth_province"].(string))
		},
		wrongType: func(row map[string]any, r *rng) {
			if r.chance(0.5) {
				row["birth_province"] = 79
			} else {
				row["child_sex"] = nil
			}
		},
		badValue: func(row map[string]any, r *rng) {
			switch r.intn(3) {
			case 0:
				row["child_sex"] = pick(r, []string{"Nam", "Nữ"})
			case 1:
				row["birth_province"] = row["birth_province"].(string)[1:]
			default:
				row["mother_cccd"] = fmt.Sprintf("%09d", r.intn(1_000_000_000)) // her old CMND
			}
		},
	},
	"civil_servant": {
		dataset: "civil_servant.employee",
		id:      "cccd", name: "full_name", dob: "dob", sex: "sex",
		legacy:   true,
		required: []string{"cccd", "full_name", "dob", "sex", "agency_code", "position", "salary_coefficient", "start_date"},
		want: func(c contract.Citizen) bool {
			y := birthYear(c)
			return y >= 1965 && y <= 2003
		},
		create: servantCreate,
		update: func(w world, row map[string]any, r *rng) {
			// a salary step, sometimes a promotion
			row["salary_coefficient"] = math.Min(10, round(row["salary_coefficient"].(float64)+0.33, 2))
			if r.chance(0.3) {
				row["position"] = pick(r, positions)
			}
		},
		wrongType: func(row map[string]any, r *rng) {
			if r.chance(0.5) {
				row["salary_coefficient"] = strings.Replace(fmt.Sprint(row["salary_coefficient"]), ".", ",", 1)
			} else {
				row["start_date"] = 20150901
			}
		},
		badValue: func(row map[string]any, r *rng) {
			if r.chance(0.5) {
				row["sex"] = pick(r, []string{"Nam", "Nữ"})
			} else {
				row["salary_coefficient"] = 12.5 // above the scale's maximum
			}
		},
	},
}

func adultFrom(c contract.Citizen) time.Time { return mustDate(c.DOB).AddDate(18, 0, 0) }

func landCreate(w world, j uint64, c contract.Citizen, r *rng) map[string]any {
	const space = 26 * 26 * 1_000_000
	v := newPerm(space, w.seed, "land-certificate").Apply(j % space)
	series := v / 1_000_000
	province := c.BirthProvince
	if r.chance(0.4) { // land elsewhere than the holder's birth province
		province = provinceCodes[r.weighted(provinceCum)]
	}
	row := map[string]any{
		"certificate_no":   fmt.Sprintf("%c%c%06d", 'A'+rune(series/26), 'A'+rune(series%26), v%1_000_000),
		"parcel_id":        fmt.Sprintf("%d/%d", r.between(1, 80), r.between(1, 2500)),
		"province_code":    province,
		"area_m2":          round(math.Exp(math.Log(40)+r.float()*math.Log(20000.0/40)), 1),
		"land_use_purpose": landPurpose(r),
		"issued_on":        dateBetween(r, later(mustDate("1993-10-15"), adultFrom(c)), mustDate(registerEnd)),
	}
	if r.chance(0.8) {
		row["address"] = address(r, province)
	}
	return row
}

var landPurposes = []string{"ONT", "ODT", "LUC", "CLN", "RSX", "SKC", "TMD"}
var landPurposeCum = cumulative([]float64{35, 25, 15, 12, 8, 3, 2})

func landPurpose(r *rng) string { return landPurposes[r.weighted(landPurposeCum)] }

func address(r *rng, province string) string {
	name, _ := cccd.ProvinceName(province)
	return fmt.Sprintf("Số %d đường %s, %s", r.between(1, 300), pick(r, streets), name)
}

func taxCreate(w world, j uint64, c contract.Citizen, r *rng) map[string]any {
	row := map[string]any{
		// personal tax codes are 10 digits starting with 8
		"tax_code":      fmt.Sprintf("8%09d", newPerm(1_000_000_000, w.seed, "tax-code").Apply(j%1_000_000_000)),
		"address":       nil,
		"tax_office":    fmt.Sprintf("%s%02d", c.BirthProvince, r.between(1, 30)),
		"status":        pick(r, []string{"ACTIVE", "ACTIVE", "ACTIVE", "ACTIVE", "ACTIVE", "ACTIVE", "ACTIVE", "ACTIVE", "SUSPENDED", "CLOSED"}),
		"registered_on": dateBetween(r, later(mustDate("1999-01-01"), adultFrom(c)), mustDate(registerEnd)),
	}
	if r.chance(0.7) {
		row["address"] = address(r, c.BirthProvince)
	}
	return row
}

func insuranceCreate(w world, j uint64, c contract.Citizen, r *rng) map[string]any {
	dob := mustDate(c.DOB)
	age := registerYear - 1 - dob.Year()
	group, level := "", 4
	switch {
	case age < 6:
		group, level = "TE", 1 // child under 6: free card
	case age < 18:
		group = "HS"
	case age >= 60:
		group, level = "HT", 2
	default:
		group = pick(r, []string{"DN", "DN", "DN", "GD", "GD", "HC", "CB", "HN"})
		if group == "HN" {
			level = 2 // poor household
		}
	}
	pp := c.BirthProvince[1:]
	from := mustDate(dateBetween(r, later(mustDate("2024-07-01"), dob), mustDate(registerEnd)))
	to := from.AddDate(1, 0, -1)
	if sixth := dob.AddDate(6, 0, -1); group == "TE" && sixth.Before(to) && sixth.After(from) {
		to = sixth // the child card ends the day before the 6th birthday
	}
	return map[string]any{
		"card_no":           fmt.Sprintf("%s%d%s%010d", group, level, pp, newPerm(10_000_000_000, w.seed, "bhxh").Apply(j%10_000_000_000)),
		"beneficiary_group": group,
		"benefit_level":     int32(level),
		"hospital_code":     fmt.Sprintf("%s%03d", pp, r.between(1, 250)),
		"valid_from":        from.Format(dateLayout),
		"valid_to":          to.Format(dateLayout),
	}
}

func birthYearOf(dob string) int { y, _, _ := splitDOB(dob); return y }

func birthCreate(w world, j uint64, c contract.Citizen, r *rng) map[string]any {
	dob := mustDate(c.DOB)
	registered := dob.AddDate(0, 0, r.between(1, 60))
	row := map[string]any{
		"registration_no": fmt.Sprintf("%03d/%04d/%d", j%1000, registered.Year(), j/1000+1),
		"birth_province":  c.BirthProvince,
		"mother_cccd":     nil,
		"father_name":     nil,
		"registered_on":   registered.Format(dateLayout),
	}
	// the mother, from the population when one of the right age turns up
	var mother contract.Citizen
	for t := 0; t < 24; t++ {
		m := w.pop.At(r.intn(w.pop.Len()))
		if y := birthYear(m); m.Sex == "F" && y >= dob.Year()-45 && y <= dob.Year()-18 {
			mother = m
			break
		}
	}
	if mother.ID != "" {
		row["mother_cccd"], row["mother_name"] = mother.ID, mother.FullName
	} else {
		row["mother_name"] = fullName(r, "F", dob.Year()-28, c.BirthProvince)
	}
	if r.chance(0.9) {
		row["father_name"] = fatherName(r, c.FullName, dob.Year(), c.BirthProvince)
	}
	return row
}

// fatherName draws a man's name carrying the child's surname.
func fatherName(r *rng, child string, childYear int, province string) string {
	sur, _, _ := strings.Cut(child, " ")
	_, rest, _ := strings.Cut(fullName(r, "M", childYear-30, province), " ")
	return sur + " " + rest
}

var (
	agencies  = []string{"BCA", "BTC", "BNV", "BGDDT", "BYT", "BTNMT", "BKHDT", "BTP", "BXD", "BLDTBXH", "TCT", "BHXHVN", "UBND-HN", "UBND-HCM", "UBND-DN", "UBND-HP", "UBND-CT", "SGDDT-HN", "STNMT-HCM"}
	positions = []string{"Chuyên viên", "Chuyên viên chính", "Chuyên viên cao cấp", "Trưởng phòng", "Phó trưởng phòng", "Văn thư", "Kế toán viên", "Thanh tra viên", "Giáo viên", "Bác sĩ", "Cán sự"}
)

func servantCreate(w world, j uint64, c contract.Citizen, r *rng) map[string]any {
	return map[string]any{
		"employee_id":        fmt.Sprintf("CB%08d", newPerm(100_000_000, w.seed, "employee").Apply(j%100_000_000)),
		"agency_code":        pick(r, agencies),
		"position":           pick(r, positions),
		"salary_coefficient": round(2.34+r.float()*5.66, 2),
		"start_date":         dateBetween(r, later(mustDate("1990-01-01"), mustDate(c.DOB).AddDate(22, 0, 0)), mustDate(registerEnd)),
	}
}
