package console

import (
	"net/http"
	"strings"
	"time"
)

// Lang is a page's language: Vietnamese first, English on request.
type Lang string

const (
	Vietnamese Lang = "vi"
	English    Lang = "en"
)

// langOf is the language the user chose (a cookie set by the switch),
// Vietnamese by default.
func langOf(r *http.Request) Lang {
	if ck, err := r.Cookie(langCookie); err == nil && ck.Value == string(English) {
		return English
	}
	return Vietnamese
}

// vietnam is the time zone of every date shown (UTC+7, no daylight time),
// fixed so the console needs no tzdata on the host.
var vietnam = time.FixedZone("ICT", 7*3600)

// formatTime is a date the Vietnamese way: dd/mm/yyyy HH:MM, Vietnam time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(vietnam).Format("02/01/2006 15:04")
}

// agencyName splits a registry name "Tên tiếng Việt (English name)" into
// the part for the language.
func agencyName(full string, l Lang) string {
	vi, en, ok := strings.Cut(full, " (")
	if !ok {
		return full
	}
	if l == English {
		return strings.TrimSuffix(en, ")")
	}
	return vi
}

// messages holds every text of the console: key → {Vietnamese, English}.
var messages = map[string][2]string{
	"brand":                   {"Trục liên thông LGSP", "LGSP data-sharing bus"},
	"skip":                    {"Bỏ qua, đến nội dung chính", "Skip to main content"},
	"lang.switch":             {"English", "Tiếng Việt"},
	"nav":                     {"Điều hướng", "Navigation"},
	"nav.overview":            {"Tổng quan", "Overview"},
	"nav.connectors":          {"Bộ kết nối", "Connectors"},
	"nav.audit":               {"Nhật ký truy cập", "Access log"},
	"nav.agreements":          {"Thỏa thuận chia sẻ", "Agreements"},
	"agr.title":               {"Thỏa thuận chia sẻ dữ liệu đang có hiệu lực", "Data-sharing agreements in force"},
	"agr.consumer":            {"Cơ quan nhận", "Receiving agency"},
	"agr.mode":                {"Hình thức", "Mode"},
	"agr.valid":               {"Hiệu lực", "Valid"},
	"agr.readonly":            {"Trang này chỉ để xem; sửa thỏa thuận bằng lệnh lgsp policy hoặc API PUT /v1/operator/agreements/{id}.", "This page is read-only; change agreements with lgsp policy or the API's PUT /v1/operator/agreements/{id}."},
	"nav.agencies":            {"Cơ quan và mã truy cập", "Agencies and credentials"},
	"nav.schemas":             {"Lược đồ dữ liệu", "Schemas"},
	"nav.review":              {"Hàng đợi rà soát", "Review queue"},
	"agr.editable":            {"Các thỏa thuận nằm trong thư mục policies.dir: người vận hành có thể sửa từng thỏa thuận; mỗi thay đổi được xem trước rồi mới áp dụng, và được ghi vào nhật ký.", "The agreements live in the policies.dir folder: the operator can edit each one; every change is previewed before it is applied, and recorded in the log."},
	"agr.builtin":             {"Không sửa được ở đây: trục đang dùng các thỏa thuận có sẵn trong chương trình (bus phát triển). Để sửa qua bảng điều khiển, đặt policies.dir (LGSP_POLICIES_DIR) tới một thư mục chứa các tệp thỏa thuận, ví dụ bản sao của policies/agreements, rồi khởi động lại.", "Editing is not possible here: the bus serves the agreements built into its binary (the dev bus). To edit them in the console, set policies.dir (LGSP_POLICIES_DIR) to a folder of agreement files, e.g. a copy of policies/agreements, and restart."},
	"agr.edit":                {"Sửa thỏa thuận", "Edit agreement"},
	"agr.edit.title":          {"Sửa thỏa thuận chia sẻ", "Edit a data-sharing agreement"},
	"agr.back":                {"Về danh sách thỏa thuận", "Back to the agreements"},
	"agr.yaml":                {"Nội dung thỏa thuận (YAML)", "The agreement (YAML)"},
	"agr.yaml.hint":           {"Như các tệp trong policies/agreements. Bấm \"Xem trước thay đổi\": chưa có gì được áp dụng.", "As the files in policies/agreements. Press \"Preview the change\": nothing is applied yet."},
	"agr.preview":             {"Xem trước thay đổi", "Preview the change"},
	"agr.diff":                {"Ai được thêm hoặc mất trường dữ liệu nào", "Who gains or loses which fields"},
	"agr.nochange":            {"Thay đổi này không làm cơ quan nào được thêm hay mất trường dữ liệu nào.", "This change gives no agency a field and takes none away."},
	"agr.gained":              {"được thêm trường", "gains fields"},
	"agr.lost":                {"mất trường", "loses fields"},
	"agr.unmasked":            {"nay nhận rõ (trước bị che)", "now in clear (masked before)"},
	"agr.masked":              {"nay bị che", "now masked"},
	"agr.added":               {"thỏa thuận thêm", "agreements added"},
	"agr.removed":             {"thỏa thuận bỏ", "agreements removed"},
	"agr.hidden":              {"ẩn với công dân", "hidden from the citizen"},
	"agr.apply":               {"Áp dụng thay đổi", "Apply the change"},
	"agr.apply.note":          {"Áp dụng đúng nội dung đã xem trước; thay đổi được kiểm tra lại, ghi vào thư mục thỏa thuận và vào nhật ký truy cập.", "Applies exactly the text previewed; it is checked again, written to the agreements folder and recorded in the access log."},
	"agr.problems":            {"Thỏa thuận chưa hợp lệ, chưa có gì thay đổi", "The agreement is not valid; nothing changed"},
	"agr.line":                {"dòng", "line"},
	"agr.invalid":             {"Thỏa thuận chưa hợp lệ; chưa có gì thay đổi.", "The agreement is not valid; nothing changed."},
	"agr.notapplied":          {"Chưa áp dụng; chưa có gì thay đổi:", "Not applied; nothing changed:"},
	"agr.changed":             {"Đã áp dụng và ghi vào nhật ký thay đổi thỏa thuận", "Applied and recorded in the log: the change of agreement"},
	"agr.issued":              {"Mật khẩu Kafka mới cấp", "Kafka passwords issued"},
	"cred.title":              {"Cơ quan và mã truy cập", "Agencies and credentials"},
	"cred.lead":               {"Các cơ quan trong danh bạ. Mỗi lần cấp hoặc thu hồi mã đều được ghi vào nhật ký truy cập.", "The agencies of the registry. Every credential issued or revoked is recorded in the access log."},
	"cred.kind":               {"Loại cơ quan", "Kind"},
	"cred.roles":              {"Vai trò", "Roles"},
	"cred.state":              {"Trạng thái", "State"},
	"cred.tokens":             {"Mã API", "API tokens"},
	"cred.created":            {"cấp lúc", "issued"},
	"cred.revokedat":          {"đã thu hồi lúc", "revoked"},
	"cred.revoke":             {"Thu hồi", "Revoke"},
	"cred.issue":              {"Cấp mã API mới", "Issue a new API token"},
	"cred.revoked":            {"Đã thu hồi mã:", "Token revoked:"},
	"cred.failed":             {"Không thực hiện được:", "Not done:"},
	"cred.back":               {"Về trang cơ quan và mã truy cập", "Back to agencies and credentials"},
	"agstate.active":          {"đang hoạt động", "active"},
	"agstate.suspended":       {"bị tạm dừng", "suspended"},
	"cert.title":              {"Chứng thư số của máy khách", "Client certificates"},
	"cert.off":                {"TLS hai chiều đang tắt nên không cấp chứng thư máy khách; bật api.tls.enabled để dùng.", "Mutual TLS is off, so no client certificates are issued; set api.tls.enabled to use them."},
	"cert.issue":              {"Cấp chứng thư", "Issue a certificate"},
	"cert.csr":                {"Yêu cầu ký chứng thư (PEM; để trống: trục tự tạo khóa, chỉ dùng khi phát triển)", "Certificate request (PEM; empty: the bus makes the key, for development only)"},
	"cert.system":             {"Hệ thống (tùy chọn)", "System (optional)"},
	"cert.validity":           {"Thời hạn (tùy chọn, ví dụ 8760h)", "Validity (optional, e.g. 8760h)"},
	"cert.until":              {"hết hạn", "expires"},
	"kafka.title":             {"Đổi mật khẩu Kafka", "Rotate a Kafka password"},
	"kafka.user":              {"Tài khoản Kafka (mã cơ quan hoặc nguồn)", "Kafka user (agency or source id)"},
	"kafka.hint":              {"Mật khẩu cũ hết hiệu lực ngay.", "The old password stops working at once."},
	"kafka.rotate":            {"Đổi mật khẩu", "Rotate the password"},
	"secret.title":            {"Thông tin bí mật mới cấp", "A new secret"},
	"secret.once":             {"Chỉ hiển thị một lần: hãy chép và giao cho chủ sở hữu ngay. Trục chỉ giữ mã băm.", "Shown once: copy it and hand it to its owner now. The bus keeps only a hash."},
	"secret.token":            {"Mã API", "API token"},
	"secret.id":               {"Mã định danh của mã API", "Token id"},
	"secret.cert":             {"Chứng thư", "Certificate"},
	"secret.ca":               {"Chứng thư của trục (CA)", "The bus's CA certificate"},
	"secret.key":              {"Khóa bí mật", "Private key"},
	"secret.serial":           {"Số sê-ri", "Serial"},
	"secret.kafka":            {"Mật khẩu Kafka", "Kafka password"},
	"secret.password":         {"Mật khẩu", "Password"},
	"secret.mechanism":        {"Cơ chế", "Mechanism"},
	"schemas.title":           {"Lược đồ dữ liệu", "Schemas"},
	"schemas.lead":            {"Các chủ đề của kho lược đồ; chọn một chủ đề để xem các phiên bản.", "The schema registry's subjects; pick one to see its versions."},
	"schemas.back":            {"Về danh sách lược đồ", "Back to the schemas"},
	"schema.title":            {"Phiên bản lược đồ", "Schema versions"},
	"schema.compare":          {"So sánh hai phiên bản", "Compare two versions"},
	"schema.left":             {"Bên trái", "Left"},
	"schema.right":            {"Bên phải", "Right"},
	"schema.version":          {"Phiên bản", "Version"},
	"schema.compare.submit":   {"So sánh", "Compare"},
	"schema.changedlines":     {"dòng khác nhau", "lines differ"},
	"schema.same":             {"Hai phiên bản giống nhau.", "The two versions are the same."},
	"schema.check":            {"Kiểm tra tương thích một lược đồ", "Check a schema's compatibility"},
	"schema.type":             {"Loại lược đồ", "Schema type"},
	"schema.pasted":           {"Lược đồ cần kiểm tra (dán vào đây; không được đăng ký)", "The schema to check (paste it here; it is not registered)"},
	"schema.check.submit":     {"Kiểm tra", "Check"},
	"schema.compatible":       {"Tương thích với phiên bản mới nhất.", "Compatible with the latest version."},
	"schema.incompatible":     {"KHÔNG tương thích với phiên bản mới nhất:", "NOT compatible with the latest version:"},
	"schema.check.failed":     {"Không kiểm tra được:", "Could not check:"},
	"review.title":            {"Hàng đợi rà soát liên kết danh tính", "Identity linkage review queue"},
	"review.lead":             {"Bản ghi không có số định danh dùng được, khớp với hơn một công dân: cán bộ quyết định.", "Records without a usable personal number that fit more than one citizen: a clerk decides."},
	"review.filter":           {"Lọc theo trạng thái", "Filter by status"},
	"review.pending":          {"Chờ quyết định", "Pending"},
	"review.accepted":         {"Đã chấp nhận", "Accepted"},
	"review.rejected":         {"Đã từ chối", "Rejected"},
	"review.none":             {"Không có mục nào.", "No item."},
	"review.item":             {"Mục", "Item"},
	"review.more":             {"Xem tiếp", "More"},
	"review.back":             {"Về hàng đợi rà soát", "Back to the review queue"},
	"review.item.title":       {"Rà soát một liên kết", "Review a link"},
	"review.record":           {"Bản ghi", "The record"},
	"review.candidate":        {"Công dân ứng viên", "The candidate citizen"},
	"review.source":           {"Nguồn", "Source"},
	"review.recordid":         {"Mã bản ghi", "Record id"},
	"review.created":          {"Vào hàng đợi lúc", "Queued"},
	"review.personal":         {"Số định danh cá nhân", "Personal number"},
	"review.score":            {"Điểm khớp", "Match weight"},
	"review.probability":      {"xác suất", "probability"},
	"review.prob.label":       {"Xác suất", "Probability"},
	"review.fields":           {"Mức khớp và trọng số từng trường", "Agreement and weight per field"},
	"review.field":            {"Trường", "Field"},
	"review.level":            {"Mức khớp", "Agreement"},
	"review.weight":           {"Trọng số", "Weight"},
	"review.recval":           {"Giá trị trong bản ghi", "The record's value"},
	"review.candval":          {"Giá trị của công dân ứng viên", "The candidate's value"},
	"review.noval":            {"(không có)", "(none)"},
	"review.prior":            {"Tiên nghiệm", "Prior"},
	"review.total":            {"Tổng", "Total"},
	"review.decide":           {"Quyết định", "Decision"},
	"review.note":             {"Ghi chú (bắt buộc, được ghi vào nhật ký)", "Note (required, recorded in the log)"},
	"review.clerk":            {"Tên cán bộ (tùy chọn)", "Clerk's name (optional)"},
	"review.accept":           {"Chấp nhận liên kết", "Accept the link"},
	"review.reject":           {"Từ chối liên kết", "Reject the link"},
	"review.by":               {"bởi", "by"},
	"review.done":             {"Đã ghi quyết định vào nhật ký cho mục", "Decision recorded in the log for item"},
	"review.failed":           {"Chưa quyết định được:", "Not decided:"},
	"level.exact":             {"trùng khớp", "exact"},
	"level.different":         {"khác", "different"},
	"level.missing":           {"thiếu", "missing"},
	"level.diacritics":        {"khác dấu", "diacritics differ"},
	"level.reordered":         {"đảo thứ tự", "reordered"},
	"level.same_year":         {"cùng năm", "same year"},
	"level.day_month_swapped": {"đảo ngày và tháng", "day and month swapped"},
	"nav.me":                  {"Ai đã xem dữ liệu của tôi", "Who looked at my data"},
	"signout":                 {"Đăng xuất", "Sign out"},
	"signed.in.as":            {"Đăng nhập với vai trò", "Signed in as"},
	"role.operator":           {"người vận hành", "operator"},
	"role.citizen":            {"công dân", "citizen"},
	"signin.title":            {"Đăng nhập", "Sign in"},
	"signin.lead":             {"Dán mã truy cập của bạn: mã của người vận hành, mã API của cơ quan, hoặc mã định danh điện tử của công dân.", "Paste your credential: the operator token, your agency's API token, or a citizen's e-ID token."},
	"signin.token":            {"Mã truy cập", "Credential"},
	"signin.submit":           {"Đăng nhập", "Sign in"},
	"signin.failed":           {"Mã truy cập không được chấp nhận: sai, đã hết hạn hoặc đã bị thu hồi. Hãy kiểm tra và thử lại.", "The credential was not accepted: it is wrong, expired or revoked. Check it and try again."},
	"signin.slow":             {"Quá nhiều lần đăng nhập sai từ địa chỉ của bạn. Hãy thử lại sau", "Too many failed sign-ins from your address. Try again in"},
	"seconds":                 {"giây", "seconds"},
	"signin.expired":          {"Phiên làm việc đã hết hạn hoặc đã kết thúc. Hãy đăng nhập lại.", "Your session has expired or ended. Please sign in again."},
	"signin.expired.title":    {"Phiên đã hết hạn", "Session expired"},
	"signin.out":              {"Bạn đã đăng xuất.", "You have signed out."},
	"csrf.title":              {"Biểu mẫu không hợp lệ", "Form not accepted"},
	"csrf.body":               {"Biểu mẫu thiếu mã chống giả mạo hoặc mã không đúng. Hãy tải lại trang và gửi lại.", "The form lacks its anti-forgery token or it is wrong. Reload the page and submit again."},
	"refused.title":           {"Không được phép", "Not allowed"},
	"refused.body":            {"Bạn không có quyền xem trang này. Lý do từ hệ thống:", "You are not allowed to see this page. The bus's reason:"},
	"error.title":             {"Có lỗi xảy ra", "Something went wrong"},
	"error.body":              {"Trục liên thông không trả lời được yêu cầu này. Hãy thử lại sau; nếu lỗi còn, báo cho người vận hành kèm nội dung sau:", "The bus could not answer this request. Retry later; if it persists, tell the operator this:"},
	"notfound.title":          {"Không tìm thấy trang", "Page not found"},
	"notfound.body":           {"Không có trang này trong bảng điều khiển.", "The console has no such page."},
	"home":                    {"Về trang chính", "Back to the start page"},
	"overview.title":          {"Tổng quan hoạt động", "Operations overview"},
	"overview.flow":           {"Luồng bản ghi", "Record flow"},
	"records_in":              {"Bản ghi nhận vào", "Records in"},
	"published":               {"Đã công bố", "Published"},
	"dead_lettered":           {"Bị từ chối (thư chết)", "Dead-lettered"},
	"delivered":               {"Đã chuyển giao", "Delivered"},
	"overview.identity":       {"Kết quả đối chiếu danh tính", "Identity outcomes"},
	"overview.connectors":     {"Bộ kết nối", "Connectors"},
	"overview.up":             {"đang chạy", "running"},
	"overview.backoff":        {"đang chờ thử lại", "in back-off"},
	"overview.other":          {"khác", "other"},
	"overview.audit":          {"Nhật ký truy cập", "Access log"},
	"overview.audit.size":     {"Số bản ghi nhật ký", "Entries"},
	"overview.checkpoint":     {"Điểm kiểm tra đã ký gần nhất", "Last signed checkpoint"},
	"overview.nocheckpoint":   {"chưa có", "none yet"},
	"overview.covers":         {"bao gồm", "covers"},
	"overview.entries":        {"bản ghi", "entries"},
	"overview.population":     {"Dân số trong chỉ mục", "Population in the index"},
	"overview.live":           {"Số liệu tự cập nhật mỗi 5 giây.", "Figures refresh every 5 seconds."},
	"none":                    {"Không có", "None"},
	"conn.title":              {"Bộ kết nối", "Connectors"},
	"conn.name":               {"Tên", "Name"},
	"conn.state":              {"Trạng thái", "State"},
	"conn.position":           {"Vị trí", "Position"},
	"conn.read":               {"Đã đọc", "Read"},
	"conn.acked":              {"Đã xác nhận", "Acknowledged"},
	"conn.errors":             {"Lỗi", "Errors"},
	"conn.lasterror":          {"Lỗi gần nhất", "Last error"},
	"conn.since":              {"Từ", "Since"},
	"conn.reset":              {"Đặt lại vị trí", "Reset position"},
	"conn.reset.position":     {"Vị trí mới (hex, để trống: từ đầu)", "New position (hex, empty: from the beginning)"},
	"conn.reset.reason":       {"Lý do (được ghi vào nhật ký)", "Reason (written to the audit log)"},
	"conn.reset.submit":       {"Đặt lại", "Reset"},
	"conn.reset.done":         {"Đã đặt lại bộ kết nối; việc đặt lại đã được ghi vào nhật ký truy cập.", "The connector was reset; the reset is recorded in the access log."},
	"conn.reset.failed":       {"Không đặt lại được:", "Not reset:"},
	"audit.title":             {"Tra cứu nhật ký truy cập", "Search the access log"},
	"audit.citizen":           {"Số định danh cá nhân (12 chữ số)", "Personal number (12 digits)"},
	"audit.agency":            {"Cơ quan", "Agency"},
	"audit.anyagency":         {"Mọi cơ quan", "Any agency"},
	"audit.dataset":           {"Tập dữ liệu", "Dataset"},
	"audit.since":             {"Từ ngày", "From"},
	"audit.until":             {"Đến ngày", "To"},
	"audit.search":            {"Tìm", "Search"},
	"audit.note":              {"Mỗi lần tìm kiếm cũng được ghi vào nhật ký.", "Every search is itself recorded in the log."},
	"audit.results":           {"Kết quả", "Results"},
	"audit.noresults":         {"Không có bản ghi nào khớp.", "No entry matches."},
	"audit.export":            {"Xuất", "Export"},
	"audit.seq":               {"Số thứ tự", "Entry"},
	"audit.time":              {"Thời gian", "Time"},
	"audit.action":            {"Hành động", "Action"},
	"audit.decision":          {"Quyết định", "Decision"},
	"audit.proof":             {"Bằng chứng", "Proof"},
	"audit.details":           {"Chi tiết", "Details"},
	"audit.fields":            {"Trường dữ liệu", "Fields"},
	"audit.purpose":           {"Mục đích", "Purpose"},
	"audit.legal":             {"Căn cứ pháp lý", "Legal basis"},
	"audit.agreement":         {"Thỏa thuận", "Agreement"},
	"audit.reason":            {"Ghi chú", "Reason"},
	"audit.request":           {"Mã yêu cầu", "Request id"},
	"audit.hash":              {"Mã băm", "Hash"},
	"audit.key":               {"Khóa công khai của nhật ký", "The log's public key"},
	"proof.checking":          {"đang kiểm tra…", "checking…"},
	"proof.ok":                {"đã xác minh trong trình duyệt", "verified in your browser"},
	"proof.bad":               {"KHÔNG xác minh được", "verification FAILED"},
	"proof.pending":           {"chờ điểm kiểm tra đã ký tiếp theo", "awaiting the next signed checkpoint"},
	"proof.unsupported":       {"trình duyệt không hỗ trợ Ed25519", "this browser lacks Ed25519"},
	"proof.explain":           {"Trình duyệt của bạn tự kiểm tra: mỗi bản ghi nằm trong cây Merkle của nhật ký và điểm kiểm tra được ký bằng khóa công khai của nhật ký.", "Your browser checks by itself that each entry is in the log's Merkle tree and that the checkpoint is signed by the log's public key."},
	"me.title":                {"Ai đã xem dữ liệu của tôi", "Who looked at my data"},
	"me.lead":                 {"Mọi lần dữ liệu của bạn được chia sẻ, mới nhất ở trên cùng.", "Every time your data was shared, newest first."},
	"me.none":                 {"Chưa có cơ quan nào nhận dữ liệu của bạn.", "No agency has received your data."},
	"me.received":             {"đã nhận", "received"},
	"me.for":                  {"để", "for"},
	"me.basis":                {"theo", "under"},
	"me.of":                   {"từ", "from"},
	"act.lookup":              {"tra cứu", "looked up"},
	"act.verify":              {"xác minh", "verified"},
	"act.deliver":             {"nhận qua luồng dữ liệu", "received through a data stream"},
	"act.audit.search":        {"tìm kiếm trong nhật ký truy cập", "searched the access log"},
	"act.audit.export":        {"xuất nhật ký truy cập", "exported the access log"},
	"state.starting":          {"đang khởi động", "starting"},
	"state.running":           {"đang chạy", "running"},
	"state.backoff":           {"đang chờ thử lại", "in back-off"},
	"state.stopped":           {"đã dừng", "stopped"},
	"state.failed":            {"bị lỗi", "failed"},
	"allow":                   {"cho phép", "allowed"},
	"deny":                    {"từ chối", "denied"},
}

// text is a message in l (the key itself if it has none, so a missing
// text shows up in the handler tests).
func text(l Lang, key string) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	if l == English {
		return m[1]
	}
	return m[0]
}
