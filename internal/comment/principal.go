package comment

// Principal is an authenticated caller of the moderation API.
type Principal struct {
	Name  string   // shown in moderation history
	Admin bool     // may act on every site
	Sites []string // sites a non-admin may moderate
}

// CanModerate reports whether p may see and change the comments of siteID.
func (p Principal) CanModerate(siteID string) bool {
	if p.Admin {
		return true
	}
	for _, s := range p.Sites {
		if s == siteID {
			return true
		}
	}
	return false
}
