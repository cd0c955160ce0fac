package claims

import (
	"strconv"

	"github.com/kycvs/kycvs/store"
)

// Status is a person's vaccination status as disclosed in the
// vaccination_status claim: 0 not vaccinated, 1 partially, 2 fully. It is a
// JSON integer on the wire. Status 0 always means a registered person with
// no dose, never "unknown": someone not in the registry gets no status.
type Status int

// The three statuses, with the values of Co-WIN's KYC-VS API.
const (
	// NotVaccinated: registered, no dose recorded.
	NotVaccinated Status = 0
	// Partially: the highest dose is below the vaccine's series length.
	Partially Status = 1
	// Fully: the series is complete (or a booster was given).
	Fully Status = 2
)

// String returns "not vaccinated", "partially vaccinated" or "fully
// vaccinated"; any other value prints as "Status(n)".
func (s Status) String() string {
	switch s {
	case NotVaccinated:
		return "not vaccinated"
	case Partially:
		return "partially vaccinated"
	case Fully:
		return "fully vaccinated"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// StatusFromDoses derives the status from a beneficiary's doses, in any
// order: no dose is NotVaccinated; otherwise the dose with the highest
// dose_number decides, against its own total_doses: below it is Partially,
// at or above it is Fully. "Above" is a booster (DIVOC: dose > totalDoses),
// so 3/2 and 2/1 are fully vaccinated, as is a one-dose vaccine at 1/1.
func StatusFromDoses(doses []store.Dose) Status {
	if len(doses) == 0 {
		return NotVaccinated
	}
	top := doses[0]
	for _, d := range doses[1:] {
		if d.DoseNumber > top.DoseNumber {
			top = d
		}
	}
	if top.DoseNumber < top.TotalDoses {
		return Partially
	}
	return Fully
}
