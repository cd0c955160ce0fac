package claims

import "github.com/kycvs/kycvs/store"

// DemoRegistry returns a small made-up registry for `kycvs serve --dev`,
// covering every status and several people on one mobile:
//
//	+919999900001  Asha Verma   Covishield 2/2            -> 2 fully
//	+919999900001  Arjun Verma  Covishield 2/2 + booster  -> 2 fully
//	+919999900002  Ravi Kumar   Covaxin 1/2               -> 1 partially
//	+919999900003  Meera Nair   no dose                   -> 0 not vaccinated
//
// Each call returns a fresh slice, ready for store.ReplaceBeneficiaries
// (NameKey set, doses ordered), so loading it again updates in place. The
// people are made up; never load them into a real deployment.
func DemoRegistry() []store.Beneficiary {
	b := func(id, mobile, name string, yob int, doses ...store.Dose) store.Beneficiary {
		for i := range doses {
			doses[i].BeneficiaryID = id
		}
		return store.Beneficiary{ID: id, Mobile: mobile, Name: name, NameKey: NameKey(name), YearOfBirth: yob, Doses: doses}
	}
	d := func(vaccine string, n, total int, date string) store.Dose {
		return store.Dose{Vaccine: vaccine, DoseNumber: n, TotalDoses: total, DoseDate: date}
	}
	return []store.Beneficiary{
		b("demo-asha", "+919999900001", "Asha Verma", 1985,
			d("Covishield", 1, 2, "2021-05-10"),
			d("Covishield", 2, 2, "2021-08-02")),
		b("demo-arjun", "+919999900001", "Arjun Verma", 1982,
			d("Covishield", 1, 2, "2021-05-12"),
			d("Covishield", 2, 2, "2021-08-05"),
			d("Covishield", 3, 2, "2022-04-20")),
		b("demo-ravi", "+919999900002", "Ravi Kumar", 1990,
			d("Covaxin", 1, 2, "2021-09-15")),
		b("demo-meera", "+919999900003", "Meera Nair", 1978),
	}
}
