package linkage

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// An English-language benchmark in the manner of FEBRL (Christen's
// Freely Extensible Biomedical Record Linkage generator, dataset 4):
// N original people with given name, surname, street number and name,
// suburb, postcode, state and date of birth, and one duplicate of each
// with FEBRL-style corruption, no id column. The originals are the
// register, the duplicates the records; every record has its person.
//
// Generator (englishWorld): names drawn with a Zipf-like skew from lists
// of common English given names (by sex) and surnames; streets and suburbs
// from lists, house numbers 1–300, a postcode per suburb, dates of birth
// uniform over 1930–2005. Corruption of each duplicate, independently:
// up to 3 field modifications in all, each on a field chosen uniformly,
// one of: a typo (a letter inserted, deleted, substituted or two swapped),
// a value missing, a phonetic-style replacement (a name spelt another way:
// ph/f, y/i, -son/-sen, double letters), given name and surname swapped,
// a date error (day and month swapped, a digit changed, the year off by
// one), a house number changed; the postcode has a digit changed.
type englishPerson struct {
	id                                    string
	given, surname, sex                   string
	number, street, suburb, postcode, dob string
}

var (
	enGivenM   = strings.Fields("james john robert michael william david richard joseph thomas charles christopher daniel matthew anthony mark donald steven paul andrew joshua kenneth kevin brian george timothy ronald edward jason jeffrey ryan jacob gary nicholas eric jonathan stephen larry justin scott brandon benjamin samuel gregory alexander frank patrick raymond jack dennis jerry tyler aaron jose adam nathan henry douglas zachary peter kyle ethan walter noah jeremy christian keith roger terry gerald harold sean austin carl arthur lawrence dylan jesse jordan bryan billy joe bruce gabriel logan albert willie alan juan wayne elijah randy roy vincent ralph eugene russell bobby mason philip louis")
	enGivenF   = strings.Fields("mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty margaret sandra ashley kimberly emily donna michelle carol amanda dorothy melissa deborah stephanie rebecca sharon laura cynthia kathleen amy angela shirley anna brenda pamela emma nicole helen samantha katherine christine debra rachel carolyn janet catherine maria heather diane ruth julie olivia joyce virginia victoria kelly lauren christina joan evelyn judith megan andrea cheryl hannah jacqueline martha gloria teresa ann sara madison frances kathryn janice jean abigail alice judy sophia grace denise amber doris marilyn danielle beverly isabella theresa diana natalie brittany charlotte marie kayla alexis lori")
	enSurnames = strings.Fields("smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark ramirez lewis robinson walker young allen king wright scott torres nguyen hill flores green adams nelson baker hall rivera campbell mitchell carter roberts gomez phillips evans turner diaz parker cruz edwards collins reyes stewart morris morales murphy cook rogers gutierrez ortiz morgan cooper peterson bailey reed kelly howard ramos kim cox ward richardson watson brooks chavez wood james bennett gray mendoza ruiz hughes price alvarez castillo sanders patel myers long ross foster jimenez powell jenkins perry russell sullivan bell coleman butler henderson barnes gonzales fisher vasquez simmons romero jordan patterson alexander hamilton graham reynolds griffin wallace moreno west cole hayes bryant herrera gibson ellis tran medina aguilar stevens murray ford castro marshall owens harrison fernandez mcdonald woods washington kennedy wells vargas henry chen freeman webb tucker guzman burns crawford olson simpson porter hunter gordon mendez silva shaw snyder mason dixon munoz hunt hicks holmes palmer wagner black robertson boyd rose stone salazar fox warren mills meyer rice schmidt garza daniels ferguson nichols stephens soto weaver ryan gardner payne grant dunn kelley spencer hawkins arnold pierce vazquez hansen peters santos hart bradley knight elliott cunningham duncan armstrong hudson carroll lane riley andrews alvarado ray delgado berry perkins hoffman johnston matthews pena richards contreras willis carpenter lawrence sandoval")
	enStreets  = strings.Fields("main high church park station victoria george king queen william albert elizabeth railway bridge mill school north south east west hill river lake forest oak pine cedar maple elm ash willow chestnut beach harbour ocean bay wattle banksia acacia jacaranda")
	enKinds    = strings.Fields("street road avenue place crescent drive lane court parade terrace")
	enSuburbs  = strings.Fields("kingston belconnen woden tuggeranong gungahlin weston deakin griffith braddon turner ainslie dickson lyneham watson hackett reid campbell narrabundah fyshwick mitchell bruce macquarie aranda cook hawker page scullin higgins holt latham florey melba spence evatt giralang kaleen lawson mckellar nicholls ngunnawal amaroo forde bonner casey taylor moncrieff")
)

// zipf draws an index in [0, n) skewed towards the start, as name
// frequencies are.
func zipf(r *rand.Rand, n int) int {
	for {
		k := int(float64(n) * r.Float64() * r.Float64())
		if k < n {
			return k
		}
	}
}

func englishWorld(seed uint64, n int) ([]englishPerson, []englishPerson) {
	r := rand.New(rand.NewPCG(seed, 0xfeb7))
	orig := make([]englishPerson, n)
	for i := range orig {
		p := englishPerson{id: fmt.Sprintf("001%09d", i+1), surname: enSurnames[zipf(r, len(enSurnames))]}
		if r.IntN(2) == 0 {
			p.sex, p.given = "M", enGivenM[zipf(r, len(enGivenM))]
		} else {
			p.sex, p.given = "F", enGivenF[zipf(r, len(enGivenF))]
		}
		sub := r.IntN(len(enSuburbs))
		p.suburb, p.postcode = enSuburbs[sub], fmt.Sprintf("26%02d", sub)
		p.number = fmt.Sprint(1 + r.IntN(300))
		p.street = enStreets[r.IntN(len(enStreets))] + " " + enKinds[r.IntN(len(enKinds))]
		p.dob = fmt.Sprintf("%04d-%02d-%02d", 1930+r.IntN(76), 1+r.IntN(12), 1+r.IntN(28))
		orig[i] = p
	}
	dup := make([]englishPerson, n)
	for i, p := range orig {
		d := p
		d.id = fmt.Sprintf("rec-%d-dup", i)
		for range 1 + r.IntN(3) {
			corrupt(r, &d)
		}
		dup[i] = d
	}
	return orig, dup
}

// corrupt applies one FEBRL-style modification to a duplicate.
func corrupt(r *rand.Rand, d *englishPerson) {
	typo := func(s string) string {
		if len(s) < 2 {
			return s
		}
		b := []byte(s)
		i := r.IntN(len(b) - 1)
		switch r.IntN(4) {
		case 0: // insert
			return string(b[:i]) + string(rune('a'+r.IntN(26))) + string(b[i:])
		case 1: // delete
			return string(b[:i]) + string(b[i+1:])
		case 2: // substitute
			b[i] = byte('a' + r.IntN(26))
		default: // transpose
			b[i], b[i+1] = b[i+1], b[i]
		}
		return string(b)
	}
	phonetic := func(s string) string {
		for _, rep := range [][2]string{{"ph", "f"}, {"y", "i"}, {"son", "sen"}, {"ll", "l"}, {"tt", "t"}, {"c", "k"}, {"ie", "y"}, {"ou", "ow"}} {
			if strings.Contains(s, rep[0]) {
				return strings.Replace(s, rep[0], rep[1], 1)
			}
		}
		return typo(s)
	}
	switch r.IntN(9) {
	case 0:
		d.given = typo(d.given)
	case 1:
		d.surname = typo(d.surname)
	case 2:
		if r.IntN(2) == 0 {
			d.given = phonetic(d.given)
		} else {
			d.surname = phonetic(d.surname)
		}
	case 3:
		d.given, d.surname = d.surname, d.given
	case 4: // a value missing
		switch r.IntN(5) {
		case 0:
			d.given = ""
		case 1:
			d.dob = ""
		case 2:
			d.street, d.number = "", ""
		case 3:
			d.suburb = ""
		default:
			d.postcode = ""
		}
	case 5: // date error
		if d.dob == "" {
			return
		}
		y, m, dd := d.dob[:4], d.dob[5:7], d.dob[8:]
		switch r.IntN(3) {
		case 0:
			if dd <= "12" {
				m, dd = dd, m
			}
		case 1:
			b := []byte(y + m + dd)
			k := 2 + r.IntN(6)
			b[k] = byte('0' + (int(b[k]-'0')+1+r.IntN(8))%10)
			y, m, dd = string(b[:4]), string(b[4:6]), string(b[6:])
		default:
			var yi int
			fmt.Sscan(y, &yi)
			y = fmt.Sprint(yi + 1 - 2*r.IntN(2))
		}
		d.dob = y + "-" + m + "-" + dd
	case 6:
		d.street = typo(d.street)
	case 7:
		d.number = fmt.Sprint(1 + r.IntN(300))
	default:
		if len(d.postcode) == 4 {
			b := []byte(d.postcode)
			b[3] = byte('0' + (int(b[3]-'0')+1)%10)
			d.postcode = string(b)
		} else {
			d.suburb = typo(d.suburb)
		}
	}
}

// englishMapping is the documented mapping of the English benchmark: the
// name in parts, the date, and street, suburb and postcode as extra
// fields; blocking adds postcode + surname soundex and given soundex +
// date of birth year, besides the built-in rules.
var englishFields = []ExtraField{
	{Name: "street", Column: "street", Comparison: "jaro_winkler"},
	{Name: "number", Column: "number", Comparison: "exact"},
	{Name: "suburb", Column: "suburb", Comparison: "jaro_winkler"},
	{Name: "postcode", Column: "postcode", Comparison: "exact"},
}

var englishRules = []BlockingRule{
	{Name: "postcode+surname_soundex", Keys: []string{"postcode", "surname:soundex"}},
	{Name: "given_soundex+dob_year", Keys: []string{"given:soundex", "dob_year"}},
	{Name: "surname_soundex+dob_month+dob_day", Keys: []string{"surname:soundex", "dob_month", "dob_day"}},
	{Name: "street+number", Keys: []string{"street", "number"}},
}

func englishRecords(ps []englishPerson) []Record {
	out := make([]Record, len(ps))
	for k, p := range ps {
		out[k] = Record{ID: p.id, Name: strings.TrimSpace(p.surname + " " + p.given), DOB: p.dob,
			Extra: []string{p.street, p.number, p.suburb, p.postcode}}
	}
	return out
}

// TestEnglishBenchmark links 5,000 English-language records without an id
// column to a register of 5,000 (FEBRL-4 sized, see englishWorld) and
// reports precision, recall and F1 of the linked records, many_to_one.
func TestEnglishBenchmark(t *testing.T) {
	orig, dup := englishWorld(4, 5000)
	pop, err := BuildPopulation(func(yield func(store.Citizen, []string) bool) {
		for _, p := range orig {
			c := store.Citizen{ID: p.id, FullName: p.surname + " " + p.given, DOB: p.dob, Sex: p.sex}
			if !yield(c, []string{p.street, p.number, p.suburb, p.postcode}) {
				return
			}
		}
	}, len(orig), englishFields)
	if err != nil {
		t.Fatal(err)
	}
	recs := englishRecords(dup)
	cfg := DefaultConfig()
	cfg.Cardinality = ManyToOne
	l, err := TrainWith(pop, recs, cfg, englishRules)
	if err != nil {
		t.Fatal(err)
	}
	ds := l.LinkBatch(recs)
	var tp, fp, review, noCand int
	for k, d := range ds {
		switch {
		case d.Outcome == identity.Linked && d.PersonalID == orig[k].id:
			tp++
		case d.Outcome == identity.Linked:
			fp++
		case d.Outcome == identity.Review:
			review++
		}
		if d.Candidates == 0 {
			noCand++
		}
	}
	prec := float64(tp) / float64(max(tp+fp, 1))
	rec := float64(tp) / float64(len(recs))
	f1 := 2 * prec * rec / (prec + rec)
	t.Logf("English benchmark: %d records, linked right %d, wrong %d, review %d, no candidate %d: precision %.4f recall %.4f F1 %.4f",
		len(recs), tp, fp, review, noCand, prec, rec, f1)
	for _, b := range l.Model().Blocking {
		t.Logf("blocking %-36s share %.4f only %.4f", b.Rule, b.Share, b.Only)
	}
	for _, c := range l.Model().Comparisons {
		var lv []string
		for _, x := range c.Levels {
			lv = append(lv, fmt.Sprintf("%s %.2f", x.Level, x.Weight))
		}
		t.Logf("%-10s %s", c.Field, strings.Join(lv, ", "))
	}
	if f1 < 0.997 {
		t.Errorf("F1 %.4f < 0.997", f1)
	}
}

// TestExtraFieldFrequency: an exact agreement on a text field's common
// value weighs less than on a rare one (term-frequency adjustment of every
// name-like field, issue 16), and the explanation says so per field.
func TestExtraFieldFrequency(t *testing.T) {
	orig, _ := englishWorld(5, 4000)
	for k := range orig {
		if k%2 == 0 {
			orig[k].street = "main street" // half the register
		}
	}
	orig[1].street = "jacaranda crescent north" // one citizen
	pop, err := BuildPopulation(func(yield func(store.Citizen, []string) bool) {
		for _, p := range orig {
			if !yield(store.Citizen{ID: p.id, FullName: p.surname + " " + p.given, DOB: p.dob, Sex: p.sex}, []string{p.street, p.number, p.suburb, p.postcode}) {
				return
			}
		}
	}, len(orig), englishFields)
	if err != nil {
		t.Fatal(err)
	}
	l, err := TrainWith(pop, englishRecords(orig[:1000]), DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tf := func(k int) float64 {
		d := l.Link(englishRecords(orig[k : k+1])[0])
		if d.PersonalID != orig[k].id {
			t.Fatalf("citizen %d: %s %s", k, d.Outcome, d.PersonalID)
		}
		for _, f := range d.Explanation.Fields {
			if f.Field == "street_tf" {
				return f.Weight
			}
		}
		t.Fatalf("citizen %d: no street_tf in %+v", k, d.Explanation.Fields)
		return 0
	}
	common, rare := tf(0), tf(1)
	if !(common < 0 && rare > 0 && rare <= DefaultConfig().MaxTF) {
		t.Errorf("street_tf: common value %.2f, rare value %.2f", common, rare)
	}
}
