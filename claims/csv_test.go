package claims_test

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
)

const header = "beneficiary_id,mobile,name,year_of_birth,vaccine,dose_number,total_doses,dose_date\n"

func TestParseCSVTestdata(t *testing.T) {
	f, err := os.Open("testdata/registry.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bs, err := claims.ParseCSV(f)
	if err != nil {
		t.Fatalf("ParseCSV: %v", err)
	}
	type row struct {
		id, mobile, name, key string
		yob, doses            int
		status                claims.Status
	}
	want := []row{
		{"demo-asha", "+919999900001", "Asha Verma", "asha verma", 1985, 2, claims.Fully},
		{"demo-arjun", "+919999900001", "Arjun Verma", "arjun verma", 1982, 3, claims.Fully},
		{"demo-ravi", "+919999900002", "Ravi Kumar", "ravi kumar", 1990, 1, claims.Partially},
		{"demo-meera", "+919999900003", "Meera Nair", "meera nair", 1978, 0, claims.NotVaccinated},
		{"demo-kiran", "+919999900004", "Kiran Rao, Jr.", "kiran rao, jr.", 2001, 1, claims.Fully},
	}
	var got []row
	for _, b := range bs {
		got = append(got, row{b.ID, b.Mobile, b.Name, b.NameKey, b.YearOfBirth, len(b.Doses), claims.StatusFromDoses(b.Doses)})
		for i, d := range b.Doses {
			if d.BeneficiaryID != b.ID || d.DoseNumber != i+1 {
				t.Errorf("%s dose %d: %+v", b.ID, i, d)
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseCSV =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseCSVGood(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []store.Beneficiary
	}{
		{"header only", header, []store.Beneficiary{}},
		{
			"BOM, CRLF, quotes, spaces, unordered doses",
			"\uFEFF" + strings.ReplaceAll(header, "\n", "\r\n") +
				"b1 , 98765 43210 ,\"  Asha   Verma \", 1985,Covishield,2,2,2021-08-02\r\n" +
				"b1,+919876543210,Asha Verma,1985,\"Covishield\",1,2,2021-05-10\r\n" +
				"\r\n" +
				"b2,9876543210,Ravi Kumar,1990,,,,\r\n",
			[]store.Beneficiary{
				{ID: "b1", Mobile: "+919876543210", Name: "Asha Verma", NameKey: "asha verma", YearOfBirth: 1985, Doses: []store.Dose{
					{BeneficiaryID: "b1", Vaccine: "Covishield", DoseNumber: 1, TotalDoses: 2, DoseDate: "2021-05-10"},
					{BeneficiaryID: "b1", Vaccine: "Covishield", DoseNumber: 2, TotalDoses: 2, DoseDate: "2021-08-02"},
				}},
				{ID: "b2", Mobile: "+919876543210", Name: "Ravi Kumar", NameKey: "ravi kumar", YearOfBirth: 1990},
			},
		},
		{
			"no trailing newline, booster",
			header + "b1,9876543210,Asha,1985,Covaxin,3,2,2022-01-10",
			[]store.Beneficiary{{ID: "b1", Mobile: "+919876543210", Name: "Asha", NameKey: "asha", YearOfBirth: 1985, Doses: []store.Dose{
				{BeneficiaryID: "b1", Vaccine: "Covaxin", DoseNumber: 3, TotalDoses: 2, DoseDate: "2022-01-10"},
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := claims.ParseCSV(strings.NewReader(tt.input))
			if err != nil {
				t.Fatalf("ParseCSV: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseCSV =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseCSVBad(t *testing.T) {
	const ok = "b0,9876500000,Zero Person,1980,Covishield,1,2,2021-05-01\n" // line 2
	tests := []struct {
		name  string
		input string
		want  []int  // lines reported, in order
		msg   string // a fragment of the first message
	}{
		{"empty file", "", []int{1}, "header"},
		{"wrong header", "id,mobile,name\n" + ok, []int{1}, "header must be exactly"},
		{"header column order", "mobile,beneficiary_id,name,year_of_birth,vaccine,dose_number,total_doses,dose_date\n", []int{1}, "header"},
		{"too few columns", header + ok + "b1,9876543210,Asha\n", []int{3}, "want 8 columns, got 3"},
		{"too many columns", header + ok + "b1,9876543210,Asha,1985,,,,,x\n", []int{3}, "want 8 columns, got 9"},
		{"empty id", header + ok + ",9876543210,Asha,1985,,,,\n", []int{3}, "beneficiary_id: empty"},
		{"id too long", header + ok + strings.Repeat("x", 65) + ",9876543210,Asha,1985,,,,\n", []int{3}, "beneficiary_id: longer than 64"},
		{"id control char", header + ok + "b\x01,9876543210,Asha,1985,,,,\n", []int{3}, "beneficiary_id: contains control"},
		{"bad mobile", header + ok + "b1,12345,Asha,1985,,,,\n", []int{3}, "mobile: "},
		{"letters in mobile", header + ok + "b1,98765abcde,Asha,1985,,,,\n", []int{3}, "mobile: "},
		{"empty name", header + ok + "b1,9876543210,  ,1985,,,,\n", []int{3}, "name: empty"},
		{"name too long", header + ok + "b1,9876543210," + strings.Repeat("a", 201) + ",1985,,,,\n", []int{3}, "name: longer than 200"},
		{"name invalid UTF-8", header + ok + "b1,9876543210,As\xffha,1985,,,,\n", []int{3}, "name: contains"},
		{"year not a number", header + ok + "b1,9876543210,Asha,abcd,,,,\n", []int{3}, "year_of_birth"},
		{"year two digits", header + ok + "b1,9876543210,Asha,85,,,,\n", []int{3}, "year_of_birth"},
		{"year too old", header + ok + "b1,9876543210,Asha,1899,,,,\n", []int{3}, "year_of_birth"},
		{"year in the future", header + ok + "b1,9876543210,Asha,2999,,,,\n", []int{3}, "year_of_birth"},
		{"year empty", header + ok + "b1,9876543210,Asha,,,,,\n", []int{3}, "year_of_birth"},
		{"partial dose columns", header + ok + "b1,9876543210,Asha,1985,Covishield,,,\n", []int{3, 3, 3}, "dose_number"},
		{"vaccine empty", header + ok + "b1,9876543210,Asha,1985,,1,2,2021-05-01\n", []int{3}, "vaccine: empty"},
		{"dose number zero", header + ok + "b1,9876543210,Asha,1985,Covishield,0,2,2021-05-01\n", []int{3}, "dose_number"},
		{"dose number negative", header + ok + "b1,9876543210,Asha,1985,Covishield,-1,2,2021-05-01\n", []int{3}, "dose_number"},
		{"dose number too big", header + ok + "b1,9876543210,Asha,1985,Covishield,11,2,2021-05-01\n", []int{3}, "dose_number"},
		{"dose number not a number", header + ok + "b1,9876543210,Asha,1985,Covishield,one,2,2021-05-01\n", []int{3}, "dose_number"},
		{"total doses zero", header + ok + "b1,9876543210,Asha,1985,Covishield,1,0,2021-05-01\n", []int{3}, "total_doses"},
		{"total doses too big", header + ok + "b1,9876543210,Asha,1985,Covishield,1,11,2021-05-01\n", []int{3}, "total_doses"},
		{"date format", header + ok + "b1,9876543210,Asha,1985,Covishield,1,2,01/05/2021\n", []int{3}, "dose_date"},
		{"date impossible", header + ok + "b1,9876543210,Asha,1985,Covishield,1,2,2021-02-30\n", []int{3}, "dose_date"},
		{"date with time", header + ok + "b1,9876543210,Asha,1985,Covishield,1,2,2021-02-03T00:00:00Z\n", []int{3}, "dose_date"},
		{"mobile differs across rows", header + ok + "b1,9876543210,Asha,1985,Covishield,1,2,2021-05-01\nb1,9876543211,Asha,1985,Covishield,2,2,2021-08-01\n", []int{4}, "mobile: differs from line 3"},
		{"name differs across rows", header + ok + "b1,9876543210,Asha,1985,Covishield,1,2,2021-05-01\nb1,9876543210,Asha V,1985,Covishield,2,2,2021-08-01\n", []int{4}, "name: differs from line 3"},
		{"year differs across rows", header + ok + "b1,9876543210,Asha,1985,Covishield,1,2,2021-05-01\nb1,9876543210,Asha,1986,Covishield,2,2,2021-08-01\n", []int{4}, "year_of_birth: differs from line 3"},
		{"duplicate dose number", header + ok + "b1,9876543210,Asha,1985,Covishield,1,2,2021-05-01\nb1,9876543210,Asha,1985,Covishield,2,2,2021-08-01\nb1,9876543210,Asha,1985,Covishield,1,2,2021-05-02\n", []int{5}, "dose 1 of beneficiary b1 is already on line 3"},
		{"no-dose row after doses", header + ok + "b1,9876543210,Asha,1985,Covishield,1,2,2021-05-01\nb1,9876543210,Asha,1985,,,,\n", []int{4}, "no-dose row"},
		{"dose after no-dose row", header + ok + "b1,9876543210,Asha,1985,,,,\nb1,9876543210,Asha,1985,Covishield,1,2,2021-05-01\n", []int{4}, "no-dose row on line 3"},
		{"two no-dose rows", header + ok + "b1,9876543210,Asha,1985,,,,\nb1,9876543210,Asha,1985,,,,\n", []int{4}, "already has a no-dose row on line 3"},
		{"same mobile and name, two ids", header + ok + "b1,9876543210,Asha Verma,1985,,,,\nb2,+919876543210,ASHA  verma,1990,,,,\n", []int{4}, "beneficiary b1 on line 3 has the same mobile and name"},
		{"bare quote", header + ok + "b1,9876543210,As\"ha,1985,,,,\n", []int{3}, "not valid CSV"},
		{"unterminated quote", header + ok + "b1,9876543210,\"Asha,1985,,,,\n", []int{3}, "not valid CSV"},
		{"line too long", header + ok + "b1,9876543210," + strings.Repeat("a", 5000) + ",1985,,,,\n", []int{3}, "longer than 4096 bytes"},
		{"no line end at all", strings.Repeat("x", 10000), []int{1}, "longer than 4096 bytes"},
		{
			"every bad line reported",
			header + // 1
				"b1,9876543210,Asha,1985,Covishield,1,2,2021-05-01\n" + // 2 good
				"b2,bad,Ravi,1990,,,,\n" + // 3 mobile
				"b3,9876543212,Meera,1978,,,,\n" + // 4 good
				"b4,9876543213,,1970,Covaxin,1,2,2021-13-01\n" + // 5 name + date
				"b1,9876543210,Asha,1985,Covishield,1,2,2021-05-03\n" + // 6 duplicate dose
				"b5,9876543214,Kiran,2001,Janssen,1,1,2021-11-30\n" + // 7 good
				"b3,9876543212,Meera,1978,Covaxin,1,2,2021-06-01\n", // 8 dose after no-dose
			[]int{3, 5, 5, 6, 8}, "mobile: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs, err := claims.ParseCSV(strings.NewReader(tt.input))
			if bs != nil {
				t.Errorf("ParseCSV returned %d beneficiaries with a bad file", len(bs))
			}
			var ie *claims.ImportError
			if !errors.As(err, &ie) {
				t.Fatalf("ParseCSV error = %v (%T), want *ImportError", err, err)
			}
			var lines []int
			for _, le := range ie.Errors {
				lines = append(lines, le.Line)
			}
			if !reflect.DeepEqual(lines, tt.want) {
				t.Errorf("lines %v, want %v; errors:\n%v", lines, tt.want, err)
			}
			if !strings.Contains(ie.Errors[0].Msg, tt.msg) {
				t.Errorf("first message %q does not contain %q", ie.Errors[0].Msg, tt.msg)
			}
			if !strings.Contains(err.Error(), "line ") {
				t.Errorf("Error() = %q does not name lines", err)
			}
		})
	}
}

func TestImportErrorMessage(t *testing.T) {
	var es []claims.LineError
	for i := 2; i < 32; i++ {
		es = append(es, claims.LineError{Line: i, Msg: "mobile: not a valid mobile number"})
	}
	msg := (&claims.ImportError{Errors: es}).Error()
	for _, want := range []string{"30 problem", "\nline 2: mobile: not a valid mobile number", "\nline 21: ", "... and 10 more"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Error() lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "line 22:") {
		t.Errorf("Error() lists more than 20 lines:\n%s", msg)
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestParseCSVReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := claims.ParseCSV(failingReader{boom})
	if !errors.Is(err, boom) {
		t.Errorf("ParseCSV error = %v, want it to wrap the read error", err)
	}
	var ie *claims.ImportError
	if errors.As(err, &ie) {
		t.Errorf("a read error is reported as bad lines: %v", err)
	}
}

// FuzzParseCSV: any file, however malformed, either imports or is refused
// with an *ImportError whose line numbers are lines of the file, never a
// panic; what imports obeys the documented rules (IDs of 1 to 64
// characters, E.164 mobiles, names in valid UTF-8 with their key, doses
// numbered 1 to 10, a status of 0, 1 or 2). Seeds: testdata/fuzz/FuzzParseCSV.
func FuzzParseCSV(f *testing.F) {
	f.Add(header + "b1,9876543210,Asha,1985,Covishield,1,2,2021-05-01\n")
	f.Add(header + "b1,9876543210,\"As\"\"ha\",1985,,,,\r\n")
	f.Add("\uFEFF" + header)
	f.Fuzz(func(t *testing.T, s string) {
		bs, err := claims.ParseCSV(strings.NewReader(s))
		if err != nil {
			var ie *claims.ImportError
			if !errors.As(err, &ie) || len(ie.Errors) == 0 || bs != nil {
				t.Fatalf("ParseCSV = %d, %v (%T)", len(bs), err, err)
			}
			lines := strings.Count(s, "\n") + 1
			for _, le := range ie.Errors {
				if le.Line < 1 || le.Line > lines {
					t.Fatalf("problem on line %d of a %d-line file: %s", le.Line, lines, le.Msg)
				}
			}
			return
		}
		for _, b := range bs {
			if b.NameKey != claims.NameKey(b.Name) || b.ID == "" || utf8.RuneCountInString(b.ID) > 64 ||
				!utf8.ValidString(b.Name) || !e164.MatchString(b.Mobile) {
				t.Fatalf("bad beneficiary %+v", b)
			}
			for _, d := range b.Doses {
				if d.DoseNumber < 1 || d.DoseNumber > 10 || d.TotalDoses < 1 || d.TotalDoses > 10 {
					t.Fatalf("bad dose %+v", d)
				}
			}
			if st := claims.StatusFromDoses(b.Doses); st < 0 || st > 2 {
				t.Fatalf("status %d", st)
			}
		}
	})
}

func TestCheckBeneficiary(t *testing.T) {
	b, problems := claims.CheckBeneficiary("B-1", "98765 43210", "  Asha   Verma ", 1985, []store.Dose{
		{Vaccine: "Covishield", DoseNumber: 2, TotalDoses: 2, DoseDate: "2021-08-02"},
		{Vaccine: "Covishield", DoseNumber: 1, TotalDoses: 2, DoseDate: "2021-05-10"},
	})
	if problems != nil || b.Mobile != "+919876543210" || b.Name != "Asha Verma" || b.NameKey != "asha verma" ||
		len(b.Doses) != 2 || b.Doses[0].DoseNumber != 1 {
		t.Fatalf("good beneficiary: %+v %v", b, problems)
	}
	if b, problems := claims.CheckBeneficiary("B-2", "9876543210", "Ravi", 1990, nil); problems != nil || len(b.Doses) != 0 {
		t.Fatalf("no dose: %+v %v", b, problems)
	}
	_, problems = claims.CheckBeneficiary("", "12", "", 1700, []store.Dose{
		{Vaccine: "V", DoseNumber: 1, TotalDoses: 2, DoseDate: "2021-13-01"},
		{Vaccine: "V", DoseNumber: 1, TotalDoses: 2, DoseDate: "2021-01-01"},
	})
	want := []string{"beneficiary_id: empty", "mobile:", "name: empty", "year_of_birth:", "doses[0].dose_date:"}
	joined := strings.Join(problems, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("problems lack %q:\n%s", w, joined)
		}
	}
	if strings.Count(joined, "mobile:") != 1 {
		t.Errorf("a problem repeated per dose:\n%s", joined)
	}
	_, problems = claims.CheckBeneficiary("B-3", "9876543210", "Ravi", 1990, []store.Dose{
		{Vaccine: "V", DoseNumber: 1, TotalDoses: 2, DoseDate: "2021-01-01"},
		{Vaccine: "V", DoseNumber: 1, TotalDoses: 2, DoseDate: "2021-02-01"},
	})
	if len(problems) != 1 || !strings.Contains(problems[0], "doses[1].dose_number: dose 1 of beneficiary B-3 is already on doses[0]") {
		t.Errorf("duplicate dose: %v", problems)
	}
}
