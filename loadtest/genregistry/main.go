// Command genregistry writes a synthetic registry CSV for import
// benchmarks: n beneficiaries in households of one to four people sharing
// a mobile, about 1.6 rows per beneficiary (15% without a dose, 30% with
// one, 50% with two, 5% with three). The same -n and -seed always give the
// same file, every line of which imports; -changed F alters a fraction F of the beneficiaries (a new
// dose for some, a corrected name for others), for a re-import benchmark.
//
//	go run ./loadtest/genregistry -n 10000000 | gzip -1 > registry-10m.csv.gz
//	go run ./loadtest/genregistry -n 10000000 -changed 0.01 | gzip -1 > registry-10m-1pct.csv.gz
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"

	"github.com/kycvs/kycvs/claims"
)

var (
	firstNames = []string{"Aarav", "Vivaan", "Aditya", "Vihaan", "Arjun", "Sai", "Reyansh", "Ayaan", "Krishna", "Ishaan",
		"Ananya", "Diya", "Asha", "Priya", "Kavya", "Lakshmi", "Meera", "Pooja", "Sneha", "Sunita",
		"Ravi", "Suresh", "Ramesh", "Mahesh", "Anil", "Sunil", "Vijay", "Sanjay", "Rahul", "Amit",
		"Fatima", "Ayesha", "Zainab", "Imran", "Salman", "Harpreet", "Gurpreet", "Manoj", "Deepa", "Geeta"}
	lastNames = []string{"Kumar", "Sharma", "Verma", "Singh", "Patel", "Reddy", "Nair", "Iyer", "Das", "Ghosh",
		"Khan", "Ali", "Gupta", "Mehta", "Joshi", "Rao", "Pillai", "Mishra", "Yadav", "Chatterjee"}
	vaccines = []string{"COVISHIELD", "COVAXIN", "Sputnik V", "CORBEVAX"}
)

func main() {
	n := flag.Int("n", 1_000_000, "beneficiaries to write")
	seed := flag.Uint64("seed", 1, "seed of the generator")
	changed := flag.Float64("changed", 0, "fraction of beneficiaries to alter (0 to 1)")
	flag.Parse()
	if *n < 0 || *changed < 0 || *changed > 1 {
		fmt.Fprintln(os.Stderr, "genregistry: -n must be >= 0 and -changed from 0 to 1")
		os.Exit(2)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	if err := write(w, *n, *seed, *changed); err != nil {
		fmt.Fprintln(os.Stderr, "genregistry:", err)
		os.Exit(1)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "genregistry:", err)
		os.Exit(1)
	}
}

func write(w io.Writer, n int, seed uint64, changed float64) error {
	if _, err := io.WriteString(w, "beneficiary_id,mobile,name,year_of_birth,vaccine,dose_number,total_doses,dose_date\n"); err != nil {
		return err
	}
	buf := make([]byte, 0, 512)
	id := 0
	for household := uint64(0); id < n; household++ {
		// Everything about a household follows from (seed, household), so
		// -changed alters people without shifting anyone else.
		r := rand.New(rand.NewPCG(seed, household))
		// Every household its own mobile: household -> (6-digit prefix,
		// 4-digit line) is one to one. Households whose prefix is not
		// an Indian mobile range are skipped.
		mobile := fmt.Sprintf("%06d%04d", 600000+household%400000, (household/400000*7919)%10000)
		if _, err := claims.NormalizeMobile(mobile); err != nil {
			continue
		}
		last := lastNames[r.IntN(len(lastNames))]
		size := 1 + r.IntN(4)
		first := r.IntN(len(firstNames))
		for m := 0; m < size && id < n; m++ {
			p := newPerson(r, firstNames[(first+m*7)%len(firstNames)]+" "+last, changed)
			buf = p.appendRows(buf[:0], id, mobile)
			if _, err := w.Write(buf); err != nil {
				return err
			}
			id++
		}
	}
	return nil
}

// person is one household member as the file lists them.
type person struct {
	name    string
	yob     int
	vaccine string
	// doses were given of total, the first day days after 2021-01-16.
	doses, total, day int
}

// newPerson draws a member named name from r; with probability changed
// they have one dose more than otherwise (" Jr" added to a name with
// three already), as if the registry had changed since.
func newPerson(r *rand.Rand, name string, changed float64) person {
	p := person{name: name, yob: 1940 + r.IntN(70), vaccine: vaccines[r.IntN(len(vaccines))], total: 2}
	switch n := r.IntN(100); {
	case n < 15:
		p.doses = 0
	case n < 45:
		p.doses = 1
	case n < 95:
		p.doses = 2
	default:
		p.doses = 3
	}
	p.day = r.IntN(300)
	if r.Float64() < changed {
		if p.doses < 3 {
			p.doses++
		} else {
			p.name += " Jr"
		}
	}
	if p.doses == 3 {
		p.total = 3
	}
	return p
}

// appendRows appends p's rows to buf, as beneficiary id with mobile: one
// a dose, or one without a dose.
func (p person) appendRows(buf []byte, id int, mobile string) []byte {
	rowStart := func() {
		buf = append(buf, 'B')
		buf = append(buf, fmt.Sprintf("%012d", id)...)
		buf = append(buf, ',')
		buf = append(buf, mobile...)
		buf = append(buf, ',')
		buf = append(buf, p.name...)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(p.yob), 10)
		buf = append(buf, ',')
	}
	if p.doses == 0 {
		rowStart()
		buf = append(buf, ",,,\n"...)
	}
	for d := 1; d <= p.doses; d++ {
		rowStart()
		buf = append(buf, p.vaccine...)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(d), 10)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(p.total), 10)
		buf = append(buf, ',')
		// From 2021-01-16, the campaign's first day, doses 84 days apart.
		buf = append(buf, date(p.day+(d-1)*84)...)
		buf = append(buf, '\n')
	}
	return buf
}

// date returns 2021-01-16 plus days, as YYYY-MM-DD.
func date(days int) string {
	y, m, d := 2021, 1, 16+days
	for {
		dim := []int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
		if y%4 == 0 && m == 2 {
			dim = 29
		}
		if d <= dim {
			break
		}
		d -= dim
		m++
		if m > 12 {
			m, y = 1, y+1
		}
	}
	return fmt.Sprintf("%04d-%02d-%02d", y, m, d)
}
