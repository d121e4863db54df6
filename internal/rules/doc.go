// Package rules decides which destinations a wsp server or agent may proxy to.
//
// A rule set has two lists, as in the legacy wsp (root-gg/wsp):
//
//   - blacklist: a request matching any of its rules is denied with ErrForbidden;
//   - whitelist: when non-empty, a request must match one of its rules, or it is
//     denied with ErrNotAllowed.
//
// The blacklist is checked first. A nil *Set, or a Set compiled from two empty
// lists, allows everything.
//
// # Matching
//
// A Rule holds Go regular expressions (RE2 syntax, see package regexp). An empty
// field matches everything, so an empty rule matches every request. A rule
// matches when every non-empty field matches:
//
//   - Method is matched against the request method, exactly as sent ("GET");
//   - URL is matched against the canonical destination URL, u.String();
//   - each Headers entry is matched against the values of that header. Header
//     names are canonicalised (http.CanonicalHeaderKey), so "x-token" and
//     "X-Token" name the same header. The entry matches if any one value of
//     the header matches; a header that is absent is tested as the empty
//     string. A value that carries a comma-separated list is one value.
//
// As in the legacy implementation, expressions are not anchored: "google"
// matches "http://www.google.com/". Write ^ and $ to anchor, and (?i) to
// ignore case.
//
// # Destinations
//
// ParseDestination turns the X-PROXY-DESTINATION header into a canonical
// absolute http or https URL. Canonical means that the string the rules see,
// u.String(), is exactly what url.Parse reads back, and that u.Scheme and
// u.Host are the address that will be dialled. The canonical form lower-cases
// the scheme and host, drops a default port (:80 for http, :443 for https),
// writes other ports without leading zeros, decodes percent-encoded
// unreserved characters, upper-cases the remaining percent escapes, removes
// "." and ".." path segments, replaces an empty path with "/" and drops the
// fragment and an empty query. This makes blacklist rules harder to sidestep,
// but a blacklist that matches URL text can never know every name or address
// of a host; prefer a whitelist where it matters.
package rules
