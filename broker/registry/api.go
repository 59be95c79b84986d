package registry

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"
)

// routes adds the rest of Confluent's REST API to e:
//
//	DELETE /subjects/{subject}                          ?permanent=true
//	DELETE /subjects/{subject}/versions/{version}       ?permanent=true
//	GET    /subjects/{subject}/versions/{version}/referencedby
//	GET    /subjects/{subject}/metadata                 ?key=k&value=v…&deleted=true
//	GET    /schemas                                     ?subjectPrefix=&deleted=true&latestOnly=true
//	GET    /contexts                                    ["."]: the bus has the default context only
//	GET    /schemas/ids/{id}/subjects                   ?deleted=true
//	GET    /schemas/ids/{id}/versions                   ?deleted=true
//	POST   /compatibility/subjects/{subject}/versions[/{version}]  ?verbose=true
//	GET|PUT|DELETE /config[/{subject}]                  GET: ?defaultToGlobal=true
//	GET|PUT|DELETE /mode[/{subject}]                    PUT: ?force=true
//
// GET /subjects takes ?deleted=true, ?deletedOnly=true and
// ?subjectPrefix=; GET /subjects/{s}/versions takes ?deleted=true and
// ?deletedOnly=true, GET /subjects/{s}/versions/{v} ?deleted=true.
func (r *Registry) routes(e *echo.Echo) {
	e.DELETE("/subjects/:subject", r.deleteSubject)
	e.DELETE("/subjects/:subject/versions/:version", r.deleteVersion)
	e.GET("/subjects/:subject/versions/:version/referencedby", r.getReferencedBy)
	e.GET("/subjects/:subject/metadata", r.getLatestWithMetadata)
	e.GET("/schemas", r.getSchemas)
	e.GET("/contexts", func(c echo.Context) error { return writeJSON(c, http.StatusOK, []string{"."}) })
	e.GET("/schemas/ids/:id/subjects", r.getSchemaSubjects)
	e.GET("/schemas/ids/:id/versions", r.getSchemaVersions)
	e.POST("/compatibility/subjects/:subject/versions", r.postCompatibility)
	e.POST("/compatibility/subjects/:subject/versions/:version", r.postCompatibility)
	e.GET("/config", r.getConfig)
	e.GET("/config/:subject", r.getConfig)
	e.PUT("/config", r.putConfig)
	e.PUT("/config/:subject", r.putConfig)
	e.DELETE("/config", r.deleteConfig)
	e.DELETE("/config/:subject", r.deleteConfig)
	e.GET("/mode", r.getMode)
	e.GET("/mode/:subject", r.getMode)
	e.PUT("/mode", r.putMode)
	e.PUT("/mode/:subject", r.putMode)
	e.DELETE("/mode", r.deleteMode)
	e.DELETE("/mode/:subject", r.deleteMode)
}

func boolParam(c echo.Context, name string) bool {
	b, _ := strconv.ParseBool(c.QueryParam(name))
	return b
}

func (r *Registry) refsDTO(c echo.Context, id int) ([]referenceDTO, error) {
	refs, err := r.SchemaRefs(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	var out []referenceDTO
	for _, x := range refs {
		out = append(out, referenceDTO{Name: x.Name, Subject: x.Subject, Version: x.Version})
	}
	return out, nil
}

// versionParam parses {version}: a number, "latest" or -1 (→ -1).
func versionParam(c echo.Context) (int, error) {
	raw, err := url.PathUnescape(c.Param("version"))
	if err != nil {
		return 0, invalidVersion(c.Param("version"))
	}
	if raw == "latest" {
		return -1, nil
	}
	n, err := strconv.ParseInt(raw, 10, 32)
	if err != nil || (n < 1 && n != -1) {
		return 0, invalidVersion(raw)
	}
	return int(n), nil
}

// optionalSubject is the {subject} parameter, "" on the global routes.
func optionalSubject(c echo.Context) (string, error) {
	if c.Param("subject") == "" {
		return "", nil
	}
	return subjectParam(c)
}

func (r *Registry) deleteSubject(c echo.Context) error {
	subject, err := subjectParam(c)
	if err != nil {
		return err
	}
	if err := audited(c, fmt.Sprintf("delete subject (permanent=%t)", boolParam(c, "permanent"))); err != nil {
		return err
	}
	vs, err := r.DeleteSubject(c.Request().Context(), subject, boolParam(c, "permanent"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, vs)
}

func (r *Registry) deleteVersion(c echo.Context) error {
	subject, err := subjectParam(c)
	if err != nil {
		return err
	}
	v, err := versionParam(c)
	if err != nil {
		return err
	}
	if err := audited(c, fmt.Sprintf("delete version %s (permanent=%t)", c.Param("version"), boolParam(c, "permanent"))); err != nil {
		return err
	}
	n, err := r.DeleteVersion(c.Request().Context(), subject, v, boolParam(c, "permanent"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, n)
}

func (r *Registry) getReferencedBy(c echo.Context) error {
	subject, err := subjectParam(c)
	if err != nil {
		return err
	}
	v, err := versionParam(c)
	if err != nil {
		return err
	}
	ids, err := r.ReferencedBy(c.Request().Context(), subject, v)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, ids)
}

// getLatestWithMetadata answers the latest version whose metadata has
// every property given as repeated ?key=k&value=v pairs (what Confluent
// serializers' use.latest.with.metadata asks for).
func (r *Registry) getLatestWithMetadata(c echo.Context) error {
	subject, err := subjectParam(c)
	if err != nil {
		return err
	}
	keys, values := c.QueryParams()["key"], c.QueryParams()["value"]
	if len(keys) != len(values) {
		return echo.NewHTTPError(http.StatusBadRequest, "Give the metadata properties as ?key=k&value=v pairs")
	}
	props := make(map[string]string, len(keys))
	for i, k := range keys {
		props[k] = values[i]
	}
	s, err := r.LatestWithMetadata(c.Request().Context(), subject, props, boolParam(c, "deleted"))
	if err != nil {
		return err
	}
	refs, err := r.refsDTO(c, s.ID)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, newSchemaResponse(s, refs))
}

// getSchemas lists every subject version with its schema, by subject then
// version (Confluent's GET /schemas).
func (r *Registry) getSchemas(c echo.Context) error {
	all, err := r.AllSchemas(c.Request().Context(), c.QueryParam("subjectPrefix"), boolParam(c, "deleted"), boolParam(c, "latestOnly"))
	if err != nil {
		return err
	}
	out := make([]schemaResponse, 0, len(all))
	for _, s := range all {
		refs, err := r.refsDTO(c, s.ID)
		if err != nil {
			return err
		}
		out = append(out, newSchemaResponse(s, refs))
	}
	return writeJSON(c, http.StatusOK, out)
}

func (r *Registry) schemaUses(c echo.Context) ([]subjectVersionDTO, error) {
	id, err := strconv.Atoi(c.Param("id"))
	if err != nil {
		return nil, echo.ErrNotFound
	}
	svs, err := r.SchemaUses(c.Request().Context(), id, boolParam(c, "deleted"))
	if err != nil {
		return nil, err
	}
	out := []subjectVersionDTO{}
	for _, sv := range svs {
		out = append(out, subjectVersionDTO{Subject: sv.Subject, Version: sv.Version})
	}
	return out, nil
}

type subjectVersionDTO struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

func (r *Registry) getSchemaSubjects(c echo.Context) error {
	uses, err := r.schemaUses(c)
	if err != nil {
		return err
	}
	subs := []string{}
	for _, u := range uses {
		if len(subs) == 0 || subs[len(subs)-1] != u.Subject {
			subs = append(subs, u.Subject)
		}
	}
	return writeJSON(c, http.StatusOK, subs)
}

func (r *Registry) getSchemaVersions(c echo.Context) error {
	uses, err := r.schemaUses(c)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, uses)
}

type compatibilityResponse struct {
	IsCompatible bool     `json:"is_compatible"`
	Messages     []string `json:"messages,omitempty"`
}

func (r *Registry) postCompatibility(c echo.Context) error {
	subject, err := subjectParam(c)
	if err != nil {
		return err
	}
	v := 0
	if c.Param("version") != "" {
		if v, err = versionParam(c); err != nil {
			return err
		}
	}
	req, err := readSchemaRequest(c)
	if err != nil {
		return err
	}
	ok, msgs, err := r.CheckCompatibility(c.Request().Context(), subject, v, req.registerRequest(c))
	if err != nil {
		return err
	}
	resp := compatibilityResponse{IsCompatible: ok}
	if boolParam(c, "verbose") {
		resp.Messages = msgs
		if resp.Messages == nil {
			resp.Messages = []string{}
		}
	}
	return writeJSONOmit(c, resp, !boolParam(c, "verbose"))
}

// writeJSONOmit writes a compatibility answer; with verbose the messages
// are always present, as an empty list when there are none.
func writeJSONOmit(c echo.Context, resp compatibilityResponse, omit bool) error {
	if omit || len(resp.Messages) > 0 {
		return writeJSON(c, http.StatusOK, resp)
	}
	return writeJSON(c, http.StatusOK, map[string]any{"is_compatible": resp.IsCompatible, "messages": []string{}})
}

// readBody decodes a JSON request body of at most maxBody bytes into v.
func readBody(c echo.Context, v any) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxBody+1))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "reading request body: "+err.Error())
	}
	if len(body) > maxBody {
		return bodyTooLarge()
	}
	if err := json.Unmarshal(body, v); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "Invalid request body: "+err.Error())
	}
	return nil
}

func (r *Registry) getConfig(c echo.Context) error {
	subject, err := optionalSubject(c)
	if err != nil {
		return err
	}
	lvl, err := r.Compatibility(c.Request().Context(), subject, boolParam(c, "defaultToGlobal"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, map[string]string{"compatibilityLevel": lvl})
}

func (r *Registry) putConfig(c echo.Context) error {
	subject, err := optionalSubject(c)
	if err != nil {
		return err
	}
	var req struct {
		Compatibility string `json:"compatibility"`
	}
	if err := readBody(c, &req); err != nil {
		return err
	}
	if err := audited(c, fmt.Sprintf("set compatibility %q", req.Compatibility)); err != nil {
		return err
	}
	lvl, err := r.SetCompatibility(c.Request().Context(), subject, req.Compatibility)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, map[string]string{"compatibility": lvl})
}

func (r *Registry) deleteConfig(c echo.Context) error {
	subject, err := optionalSubject(c)
	if err != nil {
		return err
	}
	if err := audited(c, "delete compatibility"); err != nil {
		return err
	}
	old, err := r.DeleteCompatibility(c.Request().Context(), subject)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, map[string]string{"compatibilityLevel": old})
}

func (r *Registry) getMode(c echo.Context) error {
	subject, err := optionalSubject(c)
	if err != nil {
		return err
	}
	m, err := r.Mode(c.Request().Context(), subject, boolParam(c, "defaultToGlobal"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, map[string]string{"mode": m})
}

func (r *Registry) putMode(c echo.Context) error {
	subject, err := optionalSubject(c)
	if err != nil {
		return err
	}
	var req struct {
		Mode string `json:"mode"`
	}
	if err := readBody(c, &req); err != nil {
		return err
	}
	if err := audited(c, fmt.Sprintf("set mode %q (force=%t)", req.Mode, boolParam(c, "force"))); err != nil {
		return err
	}
	m, err := r.SetMode(c.Request().Context(), subject, req.Mode, boolParam(c, "force"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, map[string]string{"mode": m})
}

func (r *Registry) deleteMode(c echo.Context) error {
	subject, err := optionalSubject(c)
	if err != nil {
		return err
	}
	if err := audited(c, "delete mode"); err != nil {
		return err
	}
	old, err := r.DeleteMode(c.Request().Context(), subject)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, map[string]string{"mode": old})
}
