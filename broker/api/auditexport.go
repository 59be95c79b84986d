package api

import (
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// exportMax bounds one export; auditors narrow the search or page with after.
const exportMax = 100_000

// auditExport streams the entries matching the search as NDJSON or CSV, each
// with its leaf hash and an RFC 6962 inclusion proof against the latest
// signed checkpoint, which heads the export with the public key: everything
// needed to verify the export offline.
func (h *handlers) auditExport(c echo.Context) error {
	q, err := h.auditQuery(c)
	if err != nil {
		return err
	}
	format := c.QueryParam("format")
	if format == "" {
		format = "ndjson"
	}
	if format != "ndjson" && format != "csv" {
		return fail(http.StatusBadRequest, "format", "format must be ndjson or csv")
	}
	if err := h.auditTheAuditor(c, "audit.export", q); err != nil {
		return err
	}
	ctx := c.Request().Context()
	// A fresh checkpoint, so the entries up to this export (its own record
	// included) all come with proofs; without a signing key, the latest.
	cp, err := h.d.AuditLog.Checkpoint(ctx)
	hasCP := err == nil
	if !hasCP {
		cp, hasCP = h.d.AuditLog.Latest()
	}
	q.Newest, q.Limit = false, 1000
	var entries []store.AuditEntry
	for len(entries) < exportMax {
		page, err := h.d.Audit.SearchAudit(ctx, q)
		if err != nil {
			return unavailable(err, "audit log unavailable, retry later")
		}
		entries = append(entries, page...)
		if len(page) < q.Limit {
			break
		}
		q.AfterSeq = page[len(page)-1].Seq
	}
	proofs := map[int64][][]byte{}
	if hasCP {
		var seqs []int64
		for _, e := range entries {
			if e.Seq <= cp.Size {
				seqs = append(seqs, e.Seq)
			}
		}
		if proofs, err = h.d.AuditLog.InclusionProofs(ctx, cp.Size, seqs); err != nil {
			return proofError(err)
		}
	}
	header := map[string]any{"public_key": hex.EncodeToString(h.d.AuditLog.PublicKey()), "entries": len(entries), "exported_at": time.Now().UTC()}
	if hasCP {
		header["checkpoint"] = map[string]any{"size": cp.Size, "root": hex.EncodeToString(cp.Root), "seq": cp.Seq, "signed_message": string(cp.Message()), "signature": cp.Signature}
	}
	if len(entries) == exportMax {
		header["truncated"] = "narrow the search or continue with after=" + strconv.FormatInt(entries[len(entries)-1].Seq, 10)
	}
	w := c.Response()
	if format == "ndjson" {
		w.Header().Set(echo.HeaderContentType, "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		enc := json.NewEncoder(w)
		_ = enc.Encode(map[string]any{"export": header})
		for _, e := range entries {
			_ = enc.Encode(map[string]any{"entry": e, "leaf_hash": hex.EncodeToString(leaf(e)), "inclusion_proof": hexes(proofs[e.Seq])})
		}
		return nil
	}
	w.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	hj, _ := json.Marshal(header)
	_ = cw.Write([]string{"# " + string(hj)})
	_ = cw.Write([]string{"seq", "time", "agency", "action", "dataset", "fields", "purpose", "legal_basis", "agreement_id", "decision", "reason", "request_id", "citizen_key", "prev_hash", "hash", "leaf_hash", "inclusion_proof"})
	for _, e := range entries {
		_ = cw.Write([]string{strconv.FormatInt(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Dataset, strings.Join(e.Fields, ";"),
			e.Purpose, e.LegalBasis, e.AgreementID, e.Decision, e.Reason, e.RequestID, e.CitizenKey,
			hex.EncodeToString(e.PrevHash), hex.EncodeToString(e.Hash), hex.EncodeToString(leaf(e)), strings.Join(hexes(proofs[e.Seq]), ";")})
	}
	cw.Flush()
	return cw.Error()
}

func leaf(e store.AuditEntry) []byte { return leafHash(e.Hash) }

// citizenAccesses is "who looked at my data": for the citizen the bearer
// token proves, every delivery, lookup and verification of their data,
// newest first, 100 per page (cursor: before).
func (h *handlers) citizenAccesses(c echo.Context) error {
	if h.d.CitizenTokens == nil {
		return fail(http.StatusNotFound, "", "the citizen view is not enabled on this bus")
	}
	auth := c.Request().Header.Get(echo.HeaderAuthorization)
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || token == "" {
		return fail(http.StatusUnauthorized, "Authorization", "send the token from the national e-ID sign-in as 'Authorization: Bearer <token>'")
	}
	number, err := h.d.CitizenTokens.Verify(token)
	if err != nil {
		return fail(http.StatusUnauthorized, "Authorization", "token not accepted: %v", err)
	}
	// Entries an agreement hides for an investigation stay hidden until their date.
	q := store.AuditSearch{CitizenKey: h.d.CitizenKeys.CitizenKey(number), Newest: true, Limit: 100, VisibleAt: time.Now()}
	if s := c.QueryParam("before"); s != "" {
		if q.BeforeSeq, err = strconv.ParseInt(s, 10, 64); err != nil || q.BeforeSeq < 1 {
			return fail(http.StatusBadRequest, "before", "before must be a positive entry number")
		}
	}
	entries, err := h.d.Audit.SearchAudit(c.Request().Context(), q)
	if err != nil {
		return unavailable(err, "access log unavailable, retry later")
	}
	type access struct {
		Seq        int64     `json:"seq"`
		Time       time.Time `json:"time"`
		Agency     string    `json:"agency"`
		Action     string    `json:"action"`
		Dataset    string    `json:"dataset"`
		Fields     []string  `json:"fields"`
		Purpose    string    `json:"purpose"`
		LegalBasis string    `json:"legal_basis"`
		Agreement  string    `json:"agreement"`
	}
	out := []access{}
	for _, e := range entries {
		if e.Decision != "allow" {
			continue // a refused request released nothing about the citizen
		}
		out = append(out, access{e.Seq, e.Time, e.Actor, e.Action, e.Dataset, e.Fields, e.Purpose, e.LegalBasis, e.AgreementID})
	}
	resp := map[string]any{"accesses": out}
	if len(entries) == q.Limit {
		resp["next_before"] = strconv.FormatInt(entries[len(entries)-1].Seq, 10)
	}
	return c.JSON(http.StatusOK, resp)
}
