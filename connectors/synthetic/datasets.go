package synthetic

import (
	"fmt"
	"math"
	"time"

	"github.com/lgsp-bus/lgsp/connectors/cccd"
	"github.com/lgsp-bus/lgsp/connectors/contract"
)

// moreGenerators are the datasets a ministry streams besides its first
// (generators): every catalog dataset has a synthetic stream in dev. They
// are lanes of the ministry's one stream (see lanes in stream.go).
var moreGenerators map[string][]*generator

// Set in init: the transfer generator reads the land stream's lanes.
func init() {
	moreGenerators = map[string][]*generator{
		"land":         {parcelGen, transferGen},
		"insurance":    {participantGen},
		"civil_status": {deathGen, marriageGen},
	}
}

// rareScan bounds the walk of the register for a rare holder (~0.5 % of
// citizens are deceased: a few hundred steps on average).
const rareScan = 4096

// ict is Vietnam's time zone, for the registered_at times.
var ict = time.FixedZone("ICT", 7*3600)

// registeredAt is a time on day d during office hours, RFC 3339 with +07:00.
func registeredAt(r *rng, d time.Time) string {
	t := time.Date(d.Year(), d.Month(), d.Day(), r.between(7, 16), r.intn(60), r.intn(60), 0, ict)
	return t.Format(time.RFC3339)
}

// office is a commune people's committee in the province.
func office(r *rng, province string) string {
	name, _ := cccd.ProvinceName(province)
	return fmt.Sprintf("UBND %s %s, %s", pick(r, []string{"xã", "phường", "thị trấn"}), pick(r, communes), name)
}

var communes = []string{"Tân Phú", "An Bình", "Hòa Lợi", "Phú Mỹ", "Long Hải", "Đông Hòa", "Bình Minh", "Thạnh Xuân", "Yên Hòa", "Quang Trung", "Hưng Lợi", "Vĩnh Phúc"}

// regNo is a civil-status register number: book/year/entry.
func regNo(j uint64, on string) string {
	return fmt.Sprintf("%03d/%s/%d", j%1000, on[:4], j/1000+1)
}

// Deaths: the deceased are the citizens the register already marks
// deceased, so a death registration reconciles as deceased, as it does
// against the real register once the death is recorded there.
var deathGen = &generator{
	dataset: "civil_status.death_registration",
	id:      "deceased_cccd", name: "deceased_name", dob: "deceased_dob", sex: "deceased_sex",
	required: []string{"deceased_cccd", "deceased_name", "deceased_dob", "deceased_sex", "date_of_death", "place_of_death_province", "registered_at", "registering_office"},
	want:     func(c contract.Citizen) bool { return c.Deceased },
	rare:     true,
	create: func(w world, j uint64, c contract.Citizen, r *rng) map[string]any {
		died := mustDate(dateBetween(r, later(mustDate("2015-01-01"), mustDate(c.DOB).AddDate(0, 0, 1)), mustDate(registerEnd)))
		province := c.BirthProvince
		if r.chance(0.3) {
			province = provinceCodes[r.weighted(provinceCum)]
		}
		registered := died.AddDate(0, 0, r.between(1, 15))
		return map[string]any{
			"registration_no":         regNo(newPerm(10_000_000, w.seed, "death-registration").Apply(j%10_000_000), registered.Format(dateLayout)),
			"date_of_death":           died.Format(dateLayout),
			"place_of_death_province": province,
			"cause_category":          pick(r, []any{"natural", "natural", "disease", "disease", "accident", "other", nil}),
			"registered_at":           registeredAt(r, registered),
			"registering_office":      office(r, province),
		}
	},
	update: func(w world, row map[string]any, r *rng) {
		// a corrected cause, or the record moved to the office of residence
		if r.chance(0.5) {
			row["cause_category"] = pick(r, []any{"natural", "disease", "accident", "other"})
		} else {
			row["registering_office"] = office(r, row["place_of_death_province"].(string))
		}
	},
	wrongType: func(row map[string]any, r *rng) {
		if r.chance(0.5) {
			row["date_of_death"] = 20240115
		} else {
			row["deceased_sex"] = nil
		}
	},
	badValue: func(row map[string]any, r *rng) {
		switch r.intn(3) {
		case 0:
			row["deceased_sex"] = pick(r, []string{"Nam", "Nữ"})
		case 1:
			row["place_of_death_province"] = row["place_of_death_province"].(string)[1:]
		default:
			row["registered_at"] = row["registered_at"].(string)[:19] // no offset
		}
	},
}

// Marriages: spouse 1 (reconciled) and spouse 2 are both living adults of
// the register, of opposite sexes.
var marriageGen = &generator{
	dataset: "civil_status.marriage_registration",
	id:      "spouse1_cccd", name: "spouse1_name", dob: "spouse1_dob", sex: "spouse1_sex",
	legacy:   true,
	required: []string{"spouse1_cccd", "spouse1_name", "spouse1_dob", "spouse1_sex", "spouse2_cccd", "spouse2_name", "spouse2_dob", "spouse2_sex", "registration_province", "registering_office", "registered_on"},
	want: func(c contract.Citizen) bool {
		y := birthYear(c)
		return !c.Deceased && y <= registerYear-20 && y >= 1950
	},
	create: func(w world, j uint64, c contract.Citizen, r *rng) map[string]any {
		y := birthYear(c)
		var s2 contract.Citizen
		for t := 0; t < 48; t++ {
			s2 = w.pop.At(r.intn(w.pop.Len()))
			if y2 := birthYear(s2); s2.Sex != c.Sex && !s2.Deceased && y2 <= registerYear-20 && y2 >= y-12 && y2 <= y+12 {
				break
			}
		}
		// married once both were of age (20 for men, 18 for women: 20 here)
		on := dateBetween(r, later(mustDate("2015-01-01"), later(adultFrom(c), adultFrom(s2)).AddDate(2, 0, 0)), mustDate(registerEnd))
		province := c.BirthProvince
		if r.chance(0.5) {
			province = s2.BirthProvince
		}
		s2id := s2.ID
		if s2.OldID != "" && r.chance(legacyRate) {
			s2id = s2.OldID
		}
		return map[string]any{
			"registration_no":       regNo(newPerm(10_000_000, w.seed, "marriage-registration").Apply(j%10_000_000), on),
			"spouse2_cccd":          s2id,
			"spouse2_name":          s2.FullName,
			"spouse2_dob":           s2.DOB,
			"spouse2_sex":           s2.Sex,
			"registration_province": province,
			"registering_office":    office(r, province),
			"registered_on":         on,
		}
	},
	update: func(w world, row map[string]any, r *rng) {
		row["registering_office"] = office(r, row["registration_province"].(string)) // re-registered
	},
	wrongType: func(row map[string]any, r *rng) {
		if r.chance(0.5) {
			row["registered_on"] = 20240115
		} else {
			row["spouse2_sex"] = nil
		}
	},
	badValue: func(row map[string]any, r *rng) {
		if r.chance(0.5) {
			row["spouse1_sex"] = pick(r, []string{"Nam", "Nữ"})
		} else {
			row["registration_province"] = row["registration_province"].(string)[1:]
		}
	},
}

// Social insurance participants: people of working age, most of them
// employees (compulsory, with the employer's tax code).
var participantGen = &generator{
	dataset: "insurance.social_insurance_participant",
	id:      "cccd", name: "full_name", dob: "dob", sex: "sex",
	legacy:   true,
	required: []string{"cccd", "full_name", "dob", "sex", "contribution_salary", "participation_type", "start_date", "status"},
	want: func(c contract.Citizen) bool {
		y := birthYear(c)
		return y >= registerYear-62 && y <= registerYear-18
	},
	create: func(w world, j uint64, c contract.Citizen, r *rng) map[string]any {
		start := mustDate(dateBetween(r, later(mustDate("1995-01-01"), adultFrom(c)), mustDate(registerEnd)))
		row := map[string]any{
			"social_insurance_no": fmt.Sprintf("%s%08d", c.BirthProvince[1:], newPerm(100_000_000, w.seed, "social-insurance").Apply(j%100_000_000)),
			"employer_tax_code":   nil,
			"participation_type":  "VOLUNTARY",
			"contribution_salary": int64(1_500_000 + 100_000*r.intn(30)),
			"start_date":          time.Date(start.Year(), start.Month(), 1, 0, 0, 0, 0, time.UTC).Format(dateLayout),
			"status":              pick(r, []string{"ACTIVE", "ACTIVE", "ACTIVE", "ACTIVE", "ACTIVE", "ACTIVE", "SUSPENDED", "STOPPED"}),
		}
		if r.chance(0.8) {
			row["participation_type"] = "COMPULSORY"
			row["employer_tax_code"] = fmt.Sprintf("0%09d", r.intn(1_000_000_000))
			row["contribution_salary"] = int64(4_960_000 + 10_000*r.intn(4000))
		}
		return row
	},
	update: func(w world, row map[string]any, r *rng) {
		if r.chance(0.6) {
			row["contribution_salary"] = row["contribution_salary"].(int64) * int64(100+r.between(3, 15)) / 100 // a raise
		} else {
			row["status"] = pick(r, []string{"ACTIVE", "SUSPENDED", "STOPPED"})
		}
	},
	wrongType: func(row map[string]any, r *rng) {
		if r.chance(0.5) {
			row["contribution_salary"] = fmt.Sprint(row["contribution_salary"])
		} else {
			row["start_date"] = nil
		}
	},
	badValue: func(row map[string]any, r *rng) {
		if r.chance(0.5) {
			row["participation_type"] = pick(r, []string{"BAT_BUOC", "compulsory", "TU_NGUYEN"})
		} else {
			row["status"] = pick(r, []string{"INACTIVE", "active"})
		}
	},
}

// Parcels name no person: only schema faults, and nothing to reconcile.
var parcelGen = &generator{
	dataset:  "land.land_parcel",
	required: []string{"province_code", "commune_code", "map_sheet_no", "parcel_no", "area_m2", "land_use_purpose"},
	want:     func(contract.Citizen) bool { return true },
	create: func(w world, j uint64, c contract.Citizen, r *rng) map[string]any {
		const space = 100_000 * 100 * 1000 // commune × sheet × parcel
		v := newPerm(space, w.seed, "parcel").Apply(j % space)
		commune, sheet, parcel := v/100_000, v/1000%100+1, v%1000+1
		province := c.BirthProvince
		row := map[string]any{
			"parcel_id":        fmt.Sprintf("%05d-%d-%d", commune, sheet, parcel),
			"province_code":    province,
			"commune_code":     fmt.Sprintf("%05d", commune),
			"map_sheet_no":     float64(sheet),
			"parcel_no":        float64(parcel),
			"area_m2":          round(math.Exp(math.Log(40)+r.float()*math.Log(20000.0/40)), 1),
			"land_use_purpose": landPurpose(r),
			"address":          nil,
		}
		if r.chance(0.7) {
			row["address"] = address(r, province)
		}
		return row
	},
	update: func(w world, row map[string]any, r *rng) {
		row["area_m2"] = round(row["area_m2"].(float64)*(0.9+0.2*r.float()), 1) // re-measured
		if r.chance(0.2) {
			row["land_use_purpose"] = landPurpose(r)
		}
	},
	wrongType: func(row map[string]any, r *rng) {
		if r.chance(0.5) {
			row["map_sheet_no"] = fmt.Sprint(row["map_sheet_no"])
		} else {
			row["area_m2"] = fmt.Sprintf("%.1f m2", row["area_m2"])
		}
	},
	badValue: func(row map[string]any, r *rng) {
		if r.chance(0.5) {
			row["land_use_purpose"] = pick(r, []string{"DAT", "ont", "Đất ở"})
		} else {
			row["commune_code"] = row["commune_code"].(string)[2:]
		}
	},
}

// Transfers: the transferor is the holder of a land use right of the land
// stream (its certificate number), the transferee (reconciled) another
// adult of the register.
var transferGen = &generator{
	dataset: "land.land_transfer",
	id:      "transferee_cccd", name: "transferee_name", dob: "transferee_dob",
	legacy:   true,
	required: []string{"certificate_no", "transferor_cccd", "transferor_name", "transferee_cccd", "transferee_name", "transferee_dob", "price_vnd", "contract_date", "registered_at"},
	want:     func(c contract.Citizen) bool { return !c.Deceased && birthYear(c) <= registerYear-18 },
	create: func(w world, j uint64, c contract.Citizen, r *rng) map[string]any {
		rights := laneWorld(w.seed, "land", w.pop, lanes("land"), 0)
		// a right created in the land stream before this transfer
		var k uint64
		for t := 0; t < 8; t++ {
			if k = uint64(r.intn(int(j + 1))); rights.isCreate(k) {
				break
			}
		}
		holder, right := rights.entity(k)
		if holder.ID == c.ID { // selling to oneself: take the next right
			holder, right = rights.entity(k + 1)
		}
		signed := mustDate(dateBetween(r, later(mustDate(right["issued_on"].(string)), adultFrom(c)), mustDate(registerEnd)))
		area := right["area_m2"].(float64)
		return map[string]any{
			"transfer_no":     regNo(newPerm(10_000_000, w.seed, "land-transfer").Apply(j%10_000_000), signed.Format(dateLayout)),
			"certificate_no":  right["certificate_no"],
			"transferor_cccd": right["holder_cccd"],
			"transferor_name": right["holder_name"],
			"price_vnd":       math.Round(area*float64(r.between(2, 150))*1e5) * 10, // đồng, tens
			"contract_date":   signed.Format(dateLayout),
			"registered_at":   registeredAt(r, signed.AddDate(0, 0, r.between(1, 30))),
		}
	},
	update: func(w world, row map[string]any, r *rng) {
		row["price_vnd"] = math.Round(row["price_vnd"].(float64)*(0.8+0.4*r.float())/10) * 10 // corrected price
	},
	wrongType: func(row map[string]any, r *rng) {
		if r.chance(0.5) {
			row["price_vnd"] = fmt.Sprintf("%.0f đ", row["price_vnd"])
		} else {
			row["contract_date"] = 20240115
		}
	},
	badValue: func(row map[string]any, r *rng) {
		if r.chance(0.5) {
			row["certificate_no"] = fmt.Sprintf("%s-%s", row["certificate_no"].(string)[:2], row["certificate_no"].(string)[2:])
		} else {
			row["registered_at"] = row["registered_at"].(string)[:10] + " 10:00:00"
		}
	},
}
