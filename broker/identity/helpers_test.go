package identity

import (
	"fmt"
	"math/rand/v2"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/cccd"
)

// benchPopulation returns n distinct citizens (n ≤ 1,000,000): serial i
// makes the numbers unique whatever the random prefix, and 30% carry a
// CMND number (i*7919 mod 1e9 is a bijection, so those are unique too).
func benchPopulation(n int) []store.Citizen {
	surnames := []string{"Nguyễn", "Nguyễn", "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"}
	male := []string{"Văn", "Đức", "Minh", "Hữu", "Quốc", "Thanh", "Công", "Quang"}
	female := []string{"Thị", "Ngọc", "Thanh", "Thu", "Minh", "Phương", "Hồng", "Bích"}
	givenM := []string{"An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hiếu", "Hòa", "Hùng", "Huy", "Khánh", "Long", "Minh", "Nam", "Phong", "Quân", "Sơn", "Thắng", "Tuấn", "Việt"}
	givenF := []string{"Anh", "Chi", "Dung", "Giang", "Hà", "Hằng", "Hoa", "Hương", "Lan", "Linh", "Mai", "Ngân", "Nhung", "Phương", "Quỳnh", "Thảo", "Thúy", "Trang", "Vân", "Yến"}
	provinces := cccd.Provinces()
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]store.Citizen, n)
	for i := range out {
		sex := "M"
		mid, given := male, givenM
		if r.IntN(2) == 1 {
			sex, mid, given = "F", female, givenF
		}
		y, m, d := 1930+r.IntN(96), 1+r.IntN(12), 1+r.IntN(28)
		p := provinces[r.IntN(len(provinces))].Code
		c := store.Citizen{
			ID:            cccd.Make(p, y, sex, i),
			FullName:      surnames[r.IntN(len(surnames))] + " " + mid[r.IntN(len(mid))] + " " + given[r.IntN(len(given))],
			DOB:           fmt.Sprintf("%04d-%02d-%02d", y, m, d),
			Sex:           sex,
			BirthProvince: p,
			Deceased:      r.IntN(200) == 0,
		}
		if r.IntN(10) < 3 {
			c.OldID = fmt.Sprintf("%09d", uint64(i)*7919%1_000_000_000)
		}
		out[i] = c
	}
	return out
}

func mustIndex(cs []store.Citizen) *Index {
	idx := NewIndex(len(cs))
	for _, c := range cs {
		if err := idx.Add(c); err != nil {
			panic(err)
		}
	}
	return idx
}
