package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"

	"github.com/commentd/commentd/internal/moderation"
	"github.com/commentd/commentd/internal/spam"
)

// handleGetRules answers a site's whole rule set as one document (owners
// and admins only). Its "version" goes back with a PUT.
func handleGetRules(svc *moderation.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		view, err := svc.Rules(c.Request().Context(), principal(c), c.Param("site"))
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, view.Rules)
	}
}

// handlePutRules replaces a site's rule set. The document's "version" must
// be the one read, else 409: someone else saved in between.
func handlePutRules(svc *moderation.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		raw, err := readJSONBody(c)
		if err != nil {
			return err
		}
		r, err := spam.ParseJSON(raw)
		if err != nil {
			return err
		}
		v, err := svc.SaveRules(c.Request().Context(), principal(c), c.Param("site"), r)
		if err != nil {
			return err
		}
		view, err := svc.Rules(c.Request().Context(), principal(c), c.Param("site"))
		if err != nil {
			return err
		}
		view.Rules.Version = v
		return c.JSON(http.StatusOK, view.Rules)
	}
}

// handleRuleHits answers how often each rule of a site has fired.
func handleRuleHits(svc *moderation.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		view, err := svc.Rules(c.Request().Context(), principal(c), c.Param("site"))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]map[string]int{"hits": view.Hits})
	}
}

// testComment is a submission for a dry run: the reader's fields plus what
// the connection would say.
type testComment struct {
	submitRequest
	IP        string `json:"ip" validate:"omitempty,ip"`
	UserAgent string `json:"user_agent" validate:"omitempty,maxbytes=512"`
}

type testRequest struct {
	Comment testComment     `json:"comment"`
	Rules   json.RawMessage `json:"rules"`
}

type testResponse struct {
	Verdict string       `json:"verdict"`
	Reasons []testReason `json:"reasons"`
}

type testReason struct {
	Rule    string `json:"rule"`
	Matched string `json:"matched"`
}

// handleTestRules answers the verdict a comment would get, under the site's
// rules or candidate rules sent along, storing nothing.
func handleTestRules(svc *moderation.Service, v *validator.Validate) echo.HandlerFunc {
	return func(c echo.Context) error {
		raw, err := readJSONBody(c)
		if err != nil {
			return err
		}
		var req testRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			return &badRequest{msg: "The request body is not valid JSON."}
		}
		req.Comment.trim()
		req.Comment.IP = strings.TrimSpace(req.Comment.IP)
		if req.Comment.Page == "" {
			req.Comment.Page = "/"
		}
		if err := check(v, &req.Comment); err != nil {
			return err
		}
		var candidate *spam.Rules
		if len(req.Rules) > 0 && string(req.Rules) != "null" {
			r, err := spam.ParseJSON(req.Rules)
			if err != nil {
				return err
			}
			candidate = &r
		}
		cm := req.Comment
		verdict, err := svc.TestRules(c.Request().Context(), principal(c), c.Param("site"), moderation.TestInput{
			Submission: moderation.Submission{PageKey: cm.Page, Name: cm.Name, Email: cm.Email, Website: cm.Website,
				Body: cm.Body, IP: cm.IP, UserAgent: cm.UserAgent, FormToken: cm.FormToken, Honeypot: cm.Honeypot},
		}, candidate)
		if err != nil {
			return err
		}
		out := testResponse{Verdict: string(verdict.Action), Reasons: make([]testReason, 0, len(verdict.Reasons))}
		for _, r := range verdict.Reasons {
			out.Reasons = append(out.Reasons, testReason{Rule: r.Rule, Matched: r.Detail})
		}
		return c.JSON(http.StatusOK, out)
	}
}
