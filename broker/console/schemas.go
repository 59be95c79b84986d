package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The schema registry's pages: subjects, versions, two versions side by
// side, a compatibility check. The registry is called in-process with the
// session's credential (Deps.Schemas), so its own checks apply.

func (c *Console) schemaJSON(r *http.Request, s *session, target string, out any) restAnswer {
	a := c.call(c.d.Schemas, r, s, http.MethodGet, target, nil, nil)
	if a.Status == http.StatusOK {
		if err := json.Unmarshal(a.Body, out); err != nil {
			return restAnswer{Status: http.StatusBadGateway, Body: []byte(`{"error":"the schema registry's answer could not be read"}`)}
		}
	}
	return a
}

func (c *Console) schemas(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	var subjects []string
	if a := c.schemaJSON(r, s, "/subjects", &subjects); c.restFailed(w, r, s, a) {
		return
	}
	c.render(w, r, http.StatusOK, "schemas", pageData{Title: "schemas.title", Data: subjects, s: s})
}

// subjectVersion is GET /subjects/{s}/versions/{v}.
type subjectVersion struct {
	Subject    string `json:"subject"`
	Version    int    `json:"version"`
	ID         int    `json:"id"`
	Schema     string `json:"schema"`
	SchemaType string `json:"schemaType"`
}

type schemaData struct {
	Subject  string
	Versions []int
	A, B     subjectVersion
	Rows     []diffRow
	Changed  int
	// The compatibility check of a pasted schema.
	Pasted, PastedType string
	Checked            bool
	Compatible         bool
	Messages           []string
}

func (d schemaData) Type() string {
	if d.B.SchemaType == "" {
		return "AVRO"
	}
	return d.B.SchemaType
}

// schema shows a subject's versions and two of them side by side (?a=&b=,
// by default the last two).
func (c *Console) schema(w http.ResponseWriter, r *http.Request) {
	c.schemaPage(w, r, http.StatusOK, schemaData{}, pageData{})
}

func (c *Console) schemaPage(w http.ResponseWriter, r *http.Request, status int, d schemaData, p pageData) {
	s := sessionOf(r)
	d.Subject = r.PathValue("subject")
	base := "/subjects/" + url.PathEscape(d.Subject) + "/versions"
	if a := c.schemaJSON(r, s, base, &d.Versions); c.restFailed(w, r, s, a) {
		return
	}
	if n := len(d.Versions); n > 0 {
		va, vb := d.Versions[max(n-2, 0)], d.Versions[n-1]
		q := r.URL.Query()
		if v, err := strconv.Atoi(q.Get("a")); err == nil {
			va = v
		}
		if v, err := strconv.Atoi(q.Get("b")); err == nil {
			vb = v
		}
		for _, x := range []struct {
			v   int
			out *subjectVersion
		}{{va, &d.A}, {vb, &d.B}} {
			if a := c.schemaJSON(r, s, base+"/"+strconv.Itoa(x.v), x.out); c.restFailed(w, r, s, a) {
				return
			}
		}
		d.Rows = sideBySide(pretty(d.A.Schema), pretty(d.B.Schema))
		for _, row := range d.Rows {
			if row.Kind != "same" {
				d.Changed++
			}
		}
	}
	if d.PastedType == "" {
		d.PastedType = d.Type()
	}
	p.Title, p.Data, p.s = "schema.title", d, s
	c.render(w, r, status, "schema", p)
}

// checkSchema checks a pasted schema against the subject's latest version
// with the registry's verbose messages; nothing is registered.
func (c *Console) checkSchema(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	d := schemaData{Pasted: strings.ReplaceAll(r.PostFormValue("schema"), "\r\n", "\n"), PastedType: r.PostFormValue("type")}
	switch d.PastedType {
	case "AVRO", "JSON", "PROTOBUF":
	default:
		d.PastedType = "AVRO"
	}
	body, _ := json.Marshal(map[string]string{"schema": d.Pasted, "schemaType": d.PastedType})
	a := c.call(c.d.Schemas, r, s, http.MethodPost, "/compatibility/subjects/"+url.PathEscape(r.PathValue("subject"))+"/versions/latest?verbose=true",
		map[string]string{"Content-Type": "application/vnd.schemaregistry.v1+json"}, body)
	p := pageData{}
	status := http.StatusOK
	switch {
	case a.Status == http.StatusOK:
		var res struct {
			IsCompatible bool     `json:"is_compatible"`
			Messages     []string `json:"messages"`
		}
		if err := json.Unmarshal(a.Body, &res); err != nil {
			c.restFailed(w, r, s, restAnswer{Status: http.StatusBadGateway, Body: []byte(`{"error":"the schema registry's answer could not be read"}`)})
			return
		}
		d.Checked, d.Compatible, d.Messages = true, res.IsCompatible, res.Messages
	case a.Status >= 400 && a.Status < 500 && a.Status != http.StatusUnauthorized && a.Status != http.StatusForbidden && a.Status != http.StatusNotFound:
		// An unreadable schema (422 of the registry): its reason, on the form.
		status, p.FlashErr, p.FlashDetail = a.Status, "schema.check.failed", a.problem()
	default:
		c.restFailed(w, r, s, a)
		return
	}
	c.schemaPage(w, r, status, d, p)
}

// pretty indents a JSON schema so that the side-by-side view compares it
// member by member; anything else is shown as it is.
func pretty(schema string) []string {
	var buf bytes.Buffer
	if json.Indent(&buf, []byte(schema), "", "  ") == nil {
		schema = buf.String()
	}
	return strings.Split(schema, "\n")
}

// diffRow is one line of the side-by-side view: Kind is same, changed,
// removed (left only) or added (right only).
type diffRow struct {
	Left, Right     string
	LeftNo, RightNo int
	Kind            string
}

// maxDiffLines bounds the quadratic alignment; a longer schema is shown
// line against line without alignment.
const maxDiffLines = 3000

// sideBySide aligns two texts on their longest common subsequence of
// lines; a run of removed lines facing a run of added ones is shown as
// changed lines. (No diff library is among the project's dependencies, and
// schemas are small: the plain dynamic programme is enough.)
func sideBySide(a, b []string) []diffRow {
	var rows []diffRow
	if len(a) > maxDiffLines || len(b) > maxDiffLines {
		for i := 0; i < max(len(a), len(b)); i++ {
			row := diffRow{Kind: "changed"}
			if i < len(a) {
				row.Left, row.LeftNo = a[i], i+1
			}
			if i < len(b) {
				row.Right, row.RightNo = b[i], i+1
			}
			if i < len(a) && i < len(b) && a[i] == b[i] {
				row.Kind = "same"
			}
			rows = append(rows, row)
		}
		return rows
	}
	n, m := len(a), len(b)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var dels, adds []diffRow
	flush := func() {
		for k := 0; k < max(len(dels), len(adds)); k++ {
			row := diffRow{Kind: "changed"}
			switch {
			case k >= len(adds):
				row, row.Kind = dels[k], "removed"
			case k >= len(dels):
				row, row.Kind = adds[k], "added"
			default:
				row.Left, row.LeftNo, row.Right, row.RightNo = dels[k].Left, dels[k].LeftNo, adds[k].Right, adds[k].RightNo
			}
			rows = append(rows, row)
		}
		dels, adds = dels[:0], adds[:0]
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			flush()
			rows = append(rows, diffRow{Left: a[i], LeftNo: i + 1, Right: b[j], RightNo: j + 1, Kind: "same"})
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			adds = append(adds, diffRow{Right: b[j], RightNo: j + 1})
			j++
		default:
			dels = append(dels, diffRow{Left: a[i], LeftNo: i + 1})
			i++
		}
	}
	flush()
	return rows
}

// review is the identity linkage's review queue (the API's ReviewItem).
type reviewItem struct {
	ID          string    `json:"id"`
	Source      string    `json:"source"`
	RecordID    string    `json:"record_id"`
	PersonalID  string    `json:"personal_id"`
	Score       float64   `json:"score"`
	Probability float64   `json:"probability"`
	Reason      string    `json:"reason"`
	Status      string    `json:"status"`
	Created     time.Time `json:"created"`
	Decided     time.Time `json:"decided"`
	DecidedBy   string    `json:"decided_by"`
	Note        string    `json:"note"`
	Explanation *struct {
		Prior  float64 `json:"prior"`
		Total  float64 `json:"total"`
		Fields []struct {
			Field  string  `json:"field"`
			Level  string  `json:"level"`
			Weight float64 `json:"weight"`
			// the two values compared (linkage.FieldWeight)
			Record    string `json:"record"`
			Candidate string `json:"candidate"`
		} `json:"fields"`
	} `json:"explanation"`
}

// Percent is the probability as a whole percentage.
func (it reviewItem) Percent() string {
	return strconv.FormatFloat(it.Probability*100, 'f', 1, 64) + " %"
}

type reviewData struct {
	Status string
	Items  []reviewItem
	Next   string
}

// reviewList pages through the queue, pending items first.
func (c *Console) reviewList(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	q := r.URL.Query()
	d := reviewData{Status: q.Get("status")}
	switch d.Status {
	case "pending", "accepted", "rejected":
	default:
		d.Status = "pending"
	}
	target := url.Values{"status": {d.Status}, "limit": {"50"}}
	if after := q.Get("after"); after != "" {
		target.Set("after", after)
	}
	var page struct {
		Items []reviewItem `json:"items"`
		Next  string       `json:"next_after"`
	}
	if a := c.restJSON(r, s, "/v1/operator/review?"+target.Encode(), &page); c.restFailed(w, r, s, a) {
		return
	}
	d.Items, d.Next = page.Items, page.Next
	p := pageData{Title: "review.title", Data: d, s: s}
	if id := q.Get("decided"); id != "" {
		p.Flash, p.FlashDetail = "review.done", id
	}
	c.render(w, r, http.StatusOK, "review", p)
}

func (c *Console) reviewItem(w http.ResponseWriter, r *http.Request) {
	c.reviewItemPage(w, r, http.StatusOK, pageData{})
}

func (c *Console) reviewItemPage(w http.ResponseWriter, r *http.Request, status int, p pageData) {
	s := sessionOf(r)
	var it reviewItem
	if a := c.restJSON(r, s, "/v1/operator/review/"+url.PathEscape(r.PathValue("id")), &it); c.restFailed(w, r, s, a) {
		return
	}
	p.Title, p.Data, p.s = "review.item.title", it, s
	c.render(w, r, status, "review_item", p)
}

// reviewDecide is the clerk's accept or reject with a note, audited by the
// API before it is taken.
func (c *Console) reviewDecide(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	id, decision := r.PathValue("id"), r.PathValue("decision")
	if decision != "accept" && decision != "reject" {
		c.notFound(w, r)
		return
	}
	body, _ := json.Marshal(map[string]string{"note": r.PostFormValue("note"), "by": strings.TrimSpace(r.PostFormValue("by"))})
	a := c.rest(r, s, http.MethodPost, "/v1/operator/review/"+url.PathEscape(id)+"/"+decision, body)
	switch {
	case a.Status == http.StatusOK:
		http.Redirect(w, r, "/ui/review?decided="+url.QueryEscape(id), http.StatusSeeOther)
	case a.Status == http.StatusBadRequest || a.Status == http.StatusConflict:
		c.reviewItemPage(w, r, a.Status, pageData{FlashErr: "review.failed", FlashDetail: a.problem()})
	default:
		c.restFailed(w, r, s, a)
	}
}
