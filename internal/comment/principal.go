package comment

import "sort"

// Principal is an authenticated caller: a signed-in user, a user's API token,
// or a token from the configuration.
type Principal struct {
	UserID string          // empty for tokens from the configuration
	Name   string          // shown in moderation history
	Admin  bool            // may act on every site
	Roles  map[string]Role // site id -> role, for a non-admin
	// ViaToken is set when the caller presented an API token rather than
	// signing in; such a caller may not create or revoke tokens, so that a
	// leaked token cannot outlive its revocation.
	ViaToken bool
}

// CanModerate reports whether p may see and change the comments of siteID.
func (p Principal) CanModerate(siteID string) bool {
	if p.Admin {
		return true
	}
	r, ok := p.Roles[siteID]
	return ok && r.Valid()
}

// CanManage reports whether p may change siteID's moderators and settings.
func (p Principal) CanManage(siteID string) bool {
	return p.Admin || p.Roles[siteID] == RoleOwner
}

// SiteIDs returns the sites a non-admin may moderate, sorted.
func (p Principal) SiteIDs() []string {
	out := make([]string, 0, len(p.Roles))
	for id, r := range p.Roles {
		if r.Valid() {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}
