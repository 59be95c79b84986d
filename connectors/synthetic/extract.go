package synthetic

// ExtractRecord is record i of a ministry extract as lgsp gen writes it:
// Legacy with the number kept, then, drawn per record, the number dropped
// (the record then has no number, or only its old CMND) with probability
// 1-withNumber, or, of those kept, given with one digit changed with
// probability numberTypo. It is a pure function of its arguments.
func ExtractRecord(seed int64, view *Pop, lo LegacyOptions, withNumber, numberTypo float64, i uint64) LegacyRecord {
	lo.WithNumber = true
	r := Legacy(seed, view, i, lo)
	h := splitmix64(uint64(seed) ^ 0x6e756d626572 ^ i*0x9e3779b97f4a7c15)
	if unit(h) >= withNumber {
		r.PersonalID = ""
		if r.OldID != "" {
			r.Errors = append(r.Errors, "cmnd_only")
		} else {
			r.Errors = append(r.Errors, "no_number")
		}
		return r
	}
	h = splitmix64(h)
	if unit(h) < numberTypo {
		h = splitmix64(h)
		b := []byte(r.PersonalID)
		k := int(h % 12)
		b[k] = '0' + (b[k]-'0'+byte(1+h/12%9))%10
		r.PersonalID = string(b)
		r.Errors = append(r.Errors, "typo_number")
	}
	return r
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }
