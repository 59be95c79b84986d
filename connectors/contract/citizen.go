package contract

// Citizen is a person of the population register, as the population
// source streams it (dataset population.citizen) and the bus keeps it
// (store.Citizen is this type). It is here, not in the bus, so that a
// population source, such as the synthetic one, can produce register rows
// without importing the bus.
type Citizen struct {
	ID            string // 12-digit personal identification number (CCCD)
	OldID         string // 9-digit CMND number, "" if none
	FullName      string // as registered, NFC
	DOB           string // YYYY-MM-DD
	Sex           string // "M" or "F"
	BirthProvince string // 3-digit code, as in the CCCD prefix
	Deceased      bool
	// Residence is the registered permanent residence as one address line
	// ("Số 12 Lê Lợi, Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh"), ""
	// when unknown. The stores' register keeps it (migration 0007) from the
	// population stream, so identity linkage against the bus's register can
	// compare an address with it; the exact-lookup index does not keep it.
	Residence string
}
