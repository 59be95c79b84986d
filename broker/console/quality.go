package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The ministry's pages (issue 15): the quality of its sources over time as
// an inline SVG chart, its rejected and unreconciled records with their
// reason and JSON path, and the resubmit and discard forms. Each page is
// one call of /v1/quality… with the session's credential, so an agency
// sees only the sources it owns and the operator every source, masked.

func init() {
	for k, v := range qualityMessages {
		messages[k] = v
	}
}

var qualityMessages = map[string][2]string{
	"nav.quality":            {"Chất lượng dữ liệu", "Data quality"},
	"quality.title":          {"Chất lượng dữ liệu: đúng, đủ, sạch, sống", "Data quality: correct, sufficient, clean, alive"},
	"quality.lead":           {"Số liệu theo từng nguồn và bộ dữ liệu, tính dần khi bản ghi đi qua trục.", "Figures per source and dataset, counted as records flow through the bus."},
	"quality.period":         {"Khoảng thời gian", "Period"},
	"quality.days":           {"ngày gần nhất", "last days"},
	"quality.show":           {"Xem", "Show"},
	"quality.trend":          {"Diễn biến theo ngày", "Day by day"},
	"quality.chart.desc":     {"Cột: số bản ghi nhận được mỗi ngày, so với ngày nhiều nhất (bản ghi):", "Bars: records received each day, against the busiest day (records):"},
	"quality.chart.lines":    {"Đường liền: tỷ lệ đúng; đường đứt: tỷ lệ sạch (thang 0–100 %).", "Solid line: share correct; dashed line: share clean (scale 0–100 %)."},
	"quality.corrected":      {"Bản ghi đã sửa", "The corrected record"},
	"quality.summary":        {"Tổng hợp", "Summary"},
	"quality.datasets":       {"Theo bộ dữ liệu", "Per dataset"},
	"quality.none":           {"Chưa có bản ghi nào trong khoảng thời gian này.", "No record in this period."},
	"quality.source":         {"Nguồn", "Source"},
	"quality.dataset":        {"Bộ dữ liệu", "Dataset"},
	"quality.received":       {"Nhận", "Received"},
	"quality.valid":          {"Hợp lệ", "Valid"},
	"quality.verified":       {"Khớp CSDLQG", "Verified"},
	"quality.mismatch":       {"Lệch", "Mismatch"},
	"quality.notfound":       {"Không có số", "Not found"},
	"quality.correct":        {"Đúng", "Correct"},
	"quality.sufficient":     {"Đủ", "Sufficient"},
	"quality.clean":          {"Sạch", "Clean"},
	"quality.alive":          {"Sống", "Alive"},
	"quality.lastseen":       {"Thay đổi gần nhất", "Last change"},
	"quality.reasons":        {"Lý do từ chối nhiều nhất", "Top rejection reasons"},
	"quality.count":          {"Số lần", "Count"},
	"quality.kind":           {"Loại", "Kind"},
	"quality.path":           {"Đường dẫn JSON", "JSON path"},
	"quality.example":        {"Ví dụ", "Example"},
	"quality.items":          {"Bản ghi bị từ chối hoặc chưa đối chiếu được", "Rejected or unreconciled records"},
	"quality.items.link":     {"Xem các bản ghi cần xử lý", "See the records to handle"},
	"quality.items.none":     {"Không có bản ghi nào.", "No record."},
	"quality.open":           {"Cần xử lý", "Open"},
	"quality.resubmitted":    {"Đang gửi lại", "Resubmitted"},
	"quality.accepted":       {"Đã chấp nhận", "Accepted"},
	"quality.discarded":      {"Đã loại bỏ", "Discarded"},
	"quality.item":           {"Bản ghi", "Record"},
	"quality.item.title":     {"Bản ghi cần xử lý", "Record to handle"},
	"quality.reason":         {"Lý do", "Reason"},
	"quality.status":         {"Trạng thái", "Status"},
	"quality.attempts":       {"Số lần gửi lại", "Resubmissions"},
	"quality.record":         {"Bản ghi như đã nhận", "The record as received"},
	"quality.masked":         {"Số định danh đã được che: chỉ cơ quan sở hữu nguồn mới thấy.", "Personal numbers are masked: only the agency that owns the source sees them."},
	"quality.history":        {"Lịch sử", "History"},
	"quality.resubmit":       {"Sửa và gửi lại", "Correct and resubmit"},
	"quality.resubmit.hint":  {"Bản ghi đã sửa, ở dạng JSON như khi đẩy vào trục: {\"dataset\", \"op\", \"after\"}. Bản ghi đi qua toàn bộ trục; mục chỉ đóng khi bản ghi được công bố.", "The corrected record, as JSON as for a push: {\"dataset\", \"op\", \"after\"}. It goes through the whole bus; the item closes only once it is published."},
	"quality.resubmit.btn":   {"Gửi lại", "Resubmit"},
	"quality.discard":        {"Loại bỏ", "Discard"},
	"quality.discard.reason": {"Lý do loại bỏ (bắt buộc)", "Why it is discarded (required)"},
	"quality.done.accepted":  {"Bản ghi đã sửa được công bố; mục đã đóng.", "The corrected record was published; the item is closed."},
	"quality.done.open":      {"Bản ghi đã sửa vẫn bị từ chối; mục vẫn mở với lý do mới.", "The corrected record was refused again; the item stays open with the new reason."},
	"quality.done.discarded": {"Mục đã được loại bỏ.", "The item was discarded."},
	"quality.failed":         {"Không thực hiện được:", "Not done:"},
	"quality.more":           {"Trang sau", "Next page"},
	"quality.back":           {"Quay lại danh sách", "Back to the list"},
	"quality.who":            {"Ai", "Who"},
	"quality.action":         {"Việc", "Action"},
	"quality.when":           {"Lúc", "When"},
}

// qualityCard is one line of the scorecard (the API's DatasetCard).
type qualityCard struct {
	Source     string `json:"source"`
	Dataset    string `json:"dataset"`
	Received   int64  `json:"received"`
	Valid      int64  `json:"valid"`
	Verified   int64  `json:"verified"`
	Mismatch   int64  `json:"mismatch"`
	NotFound   int64  `json:"not_found"`
	Indicators struct {
		Correct    *float64 `json:"correct"`
		Sufficient *float64 `json:"sufficient"`
		Clean      *float64 `json:"clean"`
		Alive      *float64 `json:"alive"`
	} `json:"indicators"`
	LastSeen *time.Time `json:"last_seen"`
}

type qualityScorecard struct {
	From     string        `json:"from"`
	To       string        `json:"to"`
	Total    qualityCard   `json:"total"`
	Datasets []qualityCard `json:"datasets"`
	Reasons  []struct {
		Source  string `json:"source"`
		Dataset string `json:"dataset"`
		Kind    string `json:"kind"`
		Path    string `json:"path"`
		Example string `json:"example"`
		Count   int64  `json:"count"`
	} `json:"top_reasons"`
	Trend []struct {
		Date       string `json:"date"`
		Received   int64  `json:"received"`
		Indicators struct {
			Correct *float64 `json:"correct"`
			Clean   *float64 `json:"clean"`
		} `json:"indicators"`
	} `json:"trend"`
}

// Pct is an indicator as a percentage, "—" when there is nothing to measure.
func Pct(v *float64) string {
	if v == nil {
		return "—"
	}
	return strconv.FormatFloat(*v*100, 'f', 1, 64) + " %"
}

// chartRect is a bar of the trend chart; chartTick a label of its axis.
type chartRect struct{ X, Y, W, H float64 }
type chartTick struct {
	X, Y  float64
	Label string
}

// qualityChart is the trend as an inline SVG: bars of records received
// per day, lines of the shares correct and clean (0–100 %).
type qualityChart struct {
	W, H           int
	Bars           []chartRect
	Correct, Clean string // polyline points
	XTicks, YTicks []chartTick
	Max            int64
}

const chartW, chartH, chartL, chartT, chartB = 640, 220, 44, 10, 180

func trendChart(sc qualityScorecard) qualityChart {
	ch := qualityChart{W: chartW, H: chartH}
	n := len(sc.Trend)
	if n == 0 {
		return ch
	}
	for _, d := range sc.Trend {
		ch.Max = max(ch.Max, d.Received)
	}
	step := float64(chartW-chartL-10) / float64(n)
	var correct, clean []string
	for i, d := range sc.Trend {
		x := float64(chartL) + float64(i)*step
		if ch.Max > 0 && d.Received > 0 {
			h := float64(d.Received) / float64(ch.Max) * float64(chartB-chartT)
			ch.Bars = append(ch.Bars, chartRect{X: x + step*0.15, Y: chartB - h, W: step * 0.7, H: h})
		}
		mid := x + step/2
		if v := d.Indicators.Correct; v != nil {
			correct = append(correct, fmt.Sprintf("%.1f,%.1f", mid, chartB-*v*float64(chartB-chartT)))
		}
		if v := d.Indicators.Clean; v != nil {
			clean = append(clean, fmt.Sprintf("%.1f,%.1f", mid, chartB-*v*float64(chartB-chartT)))
		}
		if i == 0 || i == n-1 || (n > 10 && i%(n/5) == 0 && n-1-i > n/10) {
			ch.XTicks = append(ch.XTicks, chartTick{X: mid, Y: chartB + 18, Label: shortDate(d.Date)})
		}
	}
	ch.Correct, ch.Clean = strings.Join(correct, " "), strings.Join(clean, " ")
	for _, p := range []float64{0, 0.5, 1} {
		ch.YTicks = append(ch.YTicks, chartTick{X: chartL - 6, Y: chartB - p*float64(chartB-chartT) + 4, Label: fmt.Sprintf("%d %%", int(p*100))})
	}
	return ch
}

// longDate is 2026-03-01 as 01/03/2026, the Vietnamese way.
func longDate(d string) string {
	if t, err := time.Parse(time.DateOnly, d); err == nil {
		return t.Format("02/01/2006")
	}
	return d
}

// shortDate is 2026-03-01 as 01/03.
func shortDate(d string) string {
	if t, err := time.Parse(time.DateOnly, d); err == nil {
		return t.Format("02/01")
	}
	return d
}

type qualityData struct {
	Days  int
	Card  qualityScorecard
	Chart qualityChart
}

// quality is the scorecard page: ?days=7|30|90 (default 30).
func (c *Console) quality(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	days := 30
	switch r.URL.Query().Get("days") {
	case "7":
		days = 7
	case "90":
		days = 90
	}
	to := time.Now().In(vietnam)
	q := url.Values{"from": {to.AddDate(0, 0, -(days - 1)).Format(time.DateOnly)}, "to": {to.Format(time.DateOnly)}}
	var sc qualityScorecard
	if a := c.restJSON(r, s, "/v1/quality?"+q.Encode(), &sc); c.restFailed(w, r, s, a) {
		return
	}
	sc.From, sc.To = longDate(sc.From), longDate(sc.To)
	c.render(w, r, http.StatusOK, "quality", pageData{Title: "quality.title", Data: qualityData{Days: days, Card: sc, Chart: trendChart(sc)}, s: s})
}

// qualityItem is the API's item.
type qualityItem struct {
	ID        int64           `json:"id"`
	Source    string          `json:"source"`
	Dataset   string          `json:"dataset"`
	Kind      string          `json:"kind"`
	Path      string          `json:"path"`
	Reason    string          `json:"reason"`
	Status    string          `json:"status"`
	Record    json.RawMessage `json:"record"`
	EntityKey string          `json:"entity_key"`
	Attempts  int             `json:"attempts"`
	Created   time.Time       `json:"created"`
	Updated   time.Time       `json:"updated"`
	Masked    bool            `json:"masked"`
	History   []struct {
		At     time.Time `json:"at"`
		Actor  string    `json:"actor"`
		Action string    `json:"action"`
		Status string    `json:"status"`
		Kind   string    `json:"kind"`
		Path   string    `json:"path"`
		Reason string    `json:"reason"`
		Note   string    `json:"note"`
	} `json:"history"`
}

// Pretty is the record, indented for reading.
func (it qualityItem) Pretty() string {
	var buf bytes.Buffer
	if json.Indent(&buf, it.Record, "", "  ") != nil {
		return string(it.Record)
	}
	return buf.String()
}

// Correction is the record to start the correction from: the change as
// received, without the adapter's metadata.
func (it qualityItem) Correction() string {
	var doc map[string]any
	if json.Unmarshal(it.Record, &doc) != nil {
		return ""
	}
	delete(doc, "metadata")
	out, _ := json.MarshalIndent(doc, "", "  ")
	return string(out)
}

type qualityItemsData struct {
	Status string
	Items  []qualityItem
	Next   string
}

// qualityItems lists the items: ?status= (default open), ?after=.
func (c *Console) qualityItems(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	d := qualityItemsData{Status: r.URL.Query().Get("status")}
	switch d.Status {
	case "open", "resubmitted", "accepted", "discarded":
	default:
		d.Status = "open"
	}
	q := url.Values{"status": {d.Status}, "limit": {"50"}}
	if after := r.URL.Query().Get("after"); after != "" {
		q.Set("after", after)
	}
	var page struct {
		Items []qualityItem `json:"items"`
		Next  string        `json:"next_after"`
	}
	if a := c.restJSON(r, s, "/v1/quality/items?"+q.Encode(), &page); c.restFailed(w, r, s, a) {
		return
	}
	d.Items, d.Next = page.Items, page.Next
	c.render(w, r, http.StatusOK, "quality_items", pageData{Title: "quality.items", Data: d, s: s})
}

type qualityItemData struct {
	Item qualityItem
	Text string // the correction as typed, kept when it was refused
}

func (c *Console) qualityItem(w http.ResponseWriter, r *http.Request) {
	p := pageData{}
	switch r.URL.Query().Get("done") {
	case "accepted", "open", "discarded":
		p.Flash = "quality.done." + r.URL.Query().Get("done")
	}
	c.qualityItemPage(w, r, http.StatusOK, p, "")
}

func (c *Console) qualityItemPage(w http.ResponseWriter, r *http.Request, status int, p pageData, typed string) {
	s := sessionOf(r)
	var it qualityItem
	if a := c.restJSON(r, s, "/v1/quality/items/"+url.PathEscape(r.PathValue("id")), &it); c.restFailed(w, r, s, a) {
		return
	}
	if typed == "" {
		typed = it.Correction()
	}
	p.Title, p.Data, p.s = "quality.item.title", qualityItemData{Item: it, Text: typed}, s
	c.render(w, r, status, "quality_item", p)
}

// qualityResubmit sends the corrected record to the API, which answers
// once it is published or refused again.
func (c *Console) qualityResubmit(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	id := r.PathValue("id")
	typed := r.PostFormValue("record")
	a := c.rest(r, s, http.MethodPost, "/v1/quality/items/"+url.PathEscape(id)+"/resubmit", []byte(typed))
	switch {
	case a.Status == http.StatusOK:
		var out struct {
			Item qualityItem `json:"item"`
		}
		_ = json.Unmarshal(a.Body, &out)
		done := "open"
		if out.Item.Status == "accepted" {
			done = "accepted"
		}
		http.Redirect(w, r, "/ui/quality/items/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
	case a.Status == http.StatusBadRequest || a.Status == http.StatusConflict || a.Status == http.StatusUnsupportedMediaType || a.Status == http.StatusRequestEntityTooLarge:
		c.qualityItemPage(w, r, a.Status, pageData{FlashErr: "quality.failed", FlashDetail: a.problem()}, typed)
	default:
		c.restFailed(w, r, s, a)
	}
}

// qualityDiscard closes the item with the reason given.
func (c *Console) qualityDiscard(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	id := r.PathValue("id")
	body, _ := json.Marshal(map[string]string{"reason": r.PostFormValue("reason")})
	a := c.rest(r, s, http.MethodPost, "/v1/quality/items/"+url.PathEscape(id)+"/discard", body)
	switch {
	case a.Status == http.StatusOK:
		http.Redirect(w, r, "/ui/quality/items/"+url.PathEscape(id)+"?done=discarded", http.StatusSeeOther)
	case a.Status == http.StatusBadRequest || a.Status == http.StatusConflict:
		c.qualityItemPage(w, r, a.Status, pageData{FlashErr: "quality.failed", FlashDetail: a.problem()}, "")
	default:
		c.restFailed(w, r, s, a)
	}
}
