//! Choosing the route for a request (§8).
//!
//! If any rule names the request's host, only that host's rules are considered, and when none of
//! them matches the request gets `502 No route for host` (no fallback to `*`, as in Pushpin).
//! Otherwise the `*` rules are. Among the rules that match, the most specific wins: a rule with an
//! explicit `proto` beats one without, then the longer `path_beg`, then an explicit `ssl`; ties go
//! to the earlier rule. Rules with an empty condition are reached only by id, through the
//! `Pushpin-Route` header when `accept_pushpin_route` is on.

use std::sync::Arc;

use crate::config::routes::{HostMatch, Proto, Route, Routes};

/// What the router needs to know about a request.
#[derive(Clone, Copy, Debug)]
pub struct RouteQuery<'a> {
    /// Host without port, any case.
    pub host: &'a str,
    /// Path of the request target (query included is fine: only prefixes are compared).
    pub path: &'a str,
    /// A WebSocket upgrade.
    pub websocket: bool,
    /// Arrived over TLS (or marked so by a trusted `X-Forwarded-Proto`).
    pub ssl: bool,
    /// The `Pushpin-Route` header, when honoured.
    pub route_id: Option<&'a str>,
}

/// An immutable routing table; a reload builds a new one.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    routes: Vec<Arc<Route>>,
}

impl RouteTable {
    /// Builds the table from parsed routes.
    pub fn new(routes: Routes) -> Self {
        RouteTable {
            routes: routes.routes.into_iter().map(Arc::new).collect(),
        }
    }

    /// The route for a request, if any.
    pub fn find(&self, q: &RouteQuery<'_>) -> Option<Arc<Route>> {
        if let Some(id) = q.route_id {
            return self
                .routes
                .iter()
                .find(|r| r.id.as_deref() == Some(id))
                .cloned();
        }
        let named = self
            .routes
            .iter()
            .any(|r| matches!(&r.host, HostMatch::Exact(h) if h.eq_ignore_ascii_case(q.host)));
        let candidates = self.routes.iter().filter(|r| match &r.host {
            HostMatch::Exact(h) => named && h.eq_ignore_ascii_case(q.host),
            HostMatch::Any => !named,
            HostMatch::IdOnly => false,
        });
        let mut best: Option<&Arc<Route>> = None;
        for route in candidates.filter(|r| matches(r, q)) {
            if best.is_none_or(|b| specificity(route) > specificity(b)) {
                best = Some(route);
            }
        }
        best.cloned()
    }
}

fn matches(route: &Route, q: &RouteQuery<'_>) -> bool {
    let proto_ok = match route.proto {
        None => true,
        Some(Proto::Ws) => q.websocket,
        Some(Proto::Http) => !q.websocket,
    };
    let path_ok = route
        .path_beg
        .as_deref()
        .is_none_or(|p| q.path.starts_with(p));
    let ssl_ok = route.ssl.is_none_or(|s| s == q.ssl);
    proto_ok && path_ok && ssl_ok
}

/// Orders rules: explicit proto, then longer path_beg, then explicit ssl.
fn specificity(route: &Route) -> (bool, usize, bool) {
    (
        route.proto.is_some(),
        route.path_beg.as_ref().map_or(0, String::len),
        route.ssl.is_some(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> RouteTable {
        RouteTable::new(Routes::parse("routes", text).unwrap())
    }

    fn line(t: &RouteTable, host: &str, path: &str, websocket: bool) -> Option<usize> {
        t.find(&RouteQuery {
            host,
            path,
            websocket,
            ssl: false,
            route_id: None,
        })
        .map(|r| r.line)
    }

    #[test]
    fn named_host_hides_the_wildcard() {
        let t = table("* a:1\nexample.com,path_beg=/api b:1\n");
        assert_eq!(line(&t, "other.org", "/", false), Some(1));
        assert_eq!(line(&t, "EXAMPLE.com", "/api/x", false), Some(2));
        assert_eq!(
            line(&t, "example.com", "/", false),
            None,
            "no fallback to *"
        );
    }

    #[test]
    fn most_specific_wins() {
        let t = table("* a:1\n*,path_beg=/a b:1\n*,path_beg=/a/b c:1\n*,proto=ws d:1\n*,path_beg=/a,ssl=no e:1\n");
        assert_eq!(line(&t, "h", "/x", false), Some(1));
        assert_eq!(
            line(&t, "h", "/a/x", false),
            Some(5),
            "explicit ssl breaks the path tie"
        );
        assert_eq!(line(&t, "h", "/a/b/c", false), Some(3));
        assert_eq!(
            line(&t, "h", "/a/b/c", true),
            Some(4),
            "explicit proto beats path"
        );
    }

    #[test]
    fn id_only_rules_need_the_header() {
        let t = table(",id=hidden a:1\n*,id=shown b:1\n");
        assert_eq!(line(&t, "h", "/", false), Some(2));
        let q = RouteQuery {
            host: "h",
            path: "/",
            websocket: false,
            ssl: false,
            route_id: Some("hidden"),
        };
        assert_eq!(t.find(&q).map(|r| r.line), Some(1));
    }
}
