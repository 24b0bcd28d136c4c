//! Subscription filters (§6.7): per channel, named in `Grip-Channel: c; filter=…`, reading the
//! session's `Grip-Set-Meta` and the published item's `meta`.
//!
//! Delivery filters decide whether a session gets an item at all:
//! - `skip-self`: not when the item's `sender` is the session's `user`;
//! - `skip-users`: not when the session's `user` is in the item's comma-separated `skip_users`;
//! - `require-sub`: only when the session also listens on the channel the item's `require_sub`
//!   names (as the backend named it, without the route prefix).
//!
//! Content filters change what a session gets: `var-subst` replaces `%(name)s` with the
//! session's meta value (`%%` is a literal `%`); an unknown name is an error that ends the
//! session. `build-id` replaces `%I` with the session's id, rendered from its `id_format` meta
//! (`%%` is a literal `%`, `id_encoding=hex` hex-encodes it); another `%` in the content, no
//! `id_format`, or a `%(name)s` variable in it ends the session, as Pushpin's did for every
//! variable tried. An item
//! giving `content-filters` must name exactly the channel's content filters, in order, or the
//! session ends. Unknown filter names are ignored, as Pushpin ignores them.
//!
//! Behaviour checked against Pushpin 1.36 (`tests/diff`, the `filter_*` scenarios). Sessions
//! without filters carry no [`Filters`] at all, so the shared, encoded-once payload reaches them
//! untouched; only sessions whose content filters change bytes get their own copy.

use std::borrow::Cow;

use bytes::Bytes;
use protocol::grip::Channel;
use protocol::publish::Item;

/// Filters understood here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Filter {
    SkipSelf,
    SkipUsers,
    RequireSub,
    VarSubst,
    BuildId,
}

impl Filter {
    fn parse(name: &str) -> Option<Filter> {
        match name {
            "skip-self" => Some(Filter::SkipSelf),
            "skip-users" => Some(Filter::SkipUsers),
            "require-sub" => Some(Filter::RequireSub),
            "var-subst" => Some(Filter::VarSubst),
            "build-id" => Some(Filter::BuildId),
            _ => None,
        }
    }
}

/// Why a filter ended the session.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// `var-subst` met a name the session's meta lacks.
    #[error("filter error: var-subst: no meta value named '{0}'")]
    UnknownVariable(String),
    /// `build-id` without an `id_format` in the session's meta.
    #[error("filter error: build-id: no id_format meta")]
    NoIdFormat,
    /// `build-id` content with a `%` that is neither `%I` nor `%%`.
    #[error("filter error: build-id: '%' not followed by 'I' or '%'")]
    StrayPercent,
    /// `build-id`'s `id_format` names a variable.
    #[error("filter error: build-id: unknown id_format variable '{0}'")]
    UnknownIdVariable(String),
    /// The item's `content-filters` differ from the channel's content filters.
    #[error("filter error: content filters {published:?} do not match the subscription's {subscribed:?}")]
    ContentFiltersDiffer {
        /// What the item asked for.
        published: Vec<String>,
        /// What the channel has.
        subscribed: Vec<String>,
    },
}

/// One channel's filters.
struct ChannelFilters {
    /// The channel as published to (route prefix included).
    full_name: String,
    filters: Vec<Filter>,
    /// The content filter names, in order, as the item's `content-filters` must give them.
    content_names: Vec<String>,
}

/// A session's filters and meta.
pub struct Filters {
    meta: Vec<(String, String)>,
    /// Channel names as the backend gave them (for `require-sub`).
    names: Vec<String>,
    channels: Vec<ChannelFilters>,
}

impl Filters {
    /// The session's filters, or `None` when no channel has one (the common case).
    pub fn new(channels: &[Channel], prefix: &str, meta: &[(String, String)]) -> Option<Filters> {
        if channels.iter().all(|c| c.filters.is_empty()) {
            return None;
        }
        let filtered = channels
            .iter()
            .map(|c| {
                let filters: Vec<Filter> =
                    c.filters.iter().filter_map(|f| Filter::parse(f)).collect();
                let unknown = c.filters.iter().filter(|f| Filter::parse(f).is_none());
                for name in unknown {
                    tracing::debug!(channel = %c.name, filter = %name, "unknown filter ignored");
                }
                ChannelFilters {
                    full_name: format!("{prefix}{}", c.name),
                    content_names: filters
                        .iter()
                        .filter_map(|f| match f {
                            Filter::VarSubst => Some("var-subst".to_owned()),
                            Filter::BuildId => Some("build-id".to_owned()),
                            _ => None,
                        })
                        .collect(),
                    filters,
                }
            })
            .collect();
        Some(Filters {
            meta: meta.to_vec(),
            names: channels.iter().map(|c| c.name.clone()).collect(),
            channels: filtered,
        })
    }

    fn meta(&self, key: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// What the session receives of `content` from `item`, published with `content_filters`:
    /// `Ok(None)` when a delivery filter skips it.
    pub fn apply<'a>(
        &self,
        item: &Item,
        content_filters: Option<&[String]>,
        content: &'a Bytes,
    ) -> Result<Option<Cow<'a, Bytes>>, FilterError> {
        let Some(channel) = self.channels.iter().find(|c| c.full_name == item.channel) else {
            return Ok(Some(Cow::Borrowed(content)));
        };
        if let Some(published) = content_filters {
            if published != channel.content_names.as_slice() {
                return Err(FilterError::ContentFiltersDiffer {
                    published: published.to_vec(),
                    subscribed: channel.content_names.clone(),
                });
            }
        }
        for filter in &channel.filters {
            if !self.admits(*filter, item) {
                return Ok(None);
            }
        }
        let mut out = Cow::Borrowed(content);
        for filter in &channel.filters {
            match filter {
                Filter::VarSubst => {
                    out = Cow::Owned(substitute(&out, |name| self.meta(name))?);
                }
                Filter::BuildId => out = Cow::Owned(self.build_id(&out)?),
                _ => {}
            }
        }
        Ok(Some(out))
    }

    /// `build-id`: `content` with each `%I` replaced by the session's id, rendered from its
    /// `id_format` meta (`%%` is a literal `%`; hex-encoded when `id_encoding=hex`).
    fn build_id(&self, content: &[u8]) -> Result<Bytes, FilterError> {
        let format = self.meta("id_format").ok_or(FilterError::NoIdFormat)?;
        // Pushpin 1.36 failed on every `%(name)s` variable tried in an id format; without a
        // known variable, one is an error here too.
        let id = substitute(format.as_bytes(), |_| None).map_err(|e| match e {
            FilterError::UnknownVariable(name) => FilterError::UnknownIdVariable(name),
            other => other,
        })?;
        let id = if self.meta("id_encoding") == Some("hex") {
            Bytes::from(hex(&id))
        } else {
            id
        };
        replace_id_markers(content, &id)
    }

    fn admits(&self, filter: Filter, item: &Item) -> bool {
        let user = self.meta("user");
        match filter {
            Filter::SkipSelf => {
                !matches!((user, item.meta("sender")), (Some(u), Some(s)) if u == s)
            }
            Filter::SkipUsers => match (user, item.meta("skip_users")) {
                (Some(u), Some(list)) => !list.split(',').any(|s| s.trim() == u),
                _ => true,
            },
            Filter::RequireSub => match item.meta("require_sub") {
                Some(required) => self.names.iter().any(|n| n == required),
                None => true,
            },
            Filter::VarSubst | Filter::BuildId => true,
        }
    }
}

/// `content` with each `%I` replaced by `id` and `%%` by `%`; any other `%` is an error, as in
/// Pushpin.
fn replace_id_markers(content: &[u8], id: &[u8]) -> Result<Bytes, FilterError> {
    let mut out = Vec::with_capacity(content.len() + id.len());
    let mut rest = content;
    while let Some(at) = rest.iter().position(|&b| b == b'%') {
        out.extend_from_slice(rest.get(..at).unwrap_or_default());
        let tail = rest.get(at..).unwrap_or_default();
        if tail.starts_with(b"%I") {
            out.extend_from_slice(id);
            rest = tail.get(2..).unwrap_or_default();
        } else if tail.starts_with(b"%%") {
            out.push(b'%');
            rest = tail.get(2..).unwrap_or_default();
        } else {
            return Err(FilterError::StrayPercent);
        }
    }
    out.extend_from_slice(rest);
    Ok(Bytes::from(out))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `content` with each `%(name)s` replaced by `lookup(name)`, and `%%` by `%`.
fn substitute<'m>(
    content: &[u8],
    lookup: impl Fn(&str) -> Option<&'m str>,
) -> Result<Bytes, FilterError> {
    let mut out = Vec::with_capacity(content.len());
    let mut rest = content;
    while let Some(at) = rest.iter().position(|&b| b == b'%') {
        out.extend_from_slice(rest.get(..at).unwrap_or_default());
        let tail = rest.get(at..).unwrap_or_default();
        if tail.starts_with(b"%%") {
            out.push(b'%');
            rest = tail.get(2..).unwrap_or_default();
            continue;
        }
        let variable = tail.strip_prefix(b"%(").and_then(|after| {
            let end = after.windows(2).position(|w| w == b")s")?;
            Some((after.get(..end)?, after.get(end + 2..)?))
        });
        match variable {
            Some((name, after)) => {
                let name = String::from_utf8_lossy(name);
                let value =
                    lookup(&name).ok_or_else(|| FilterError::UnknownVariable(name.into_owned()))?;
                out.extend_from_slice(value.as_bytes());
                rest = after;
            }
            None => {
                out.push(b'%');
                rest = tail.get(1..).unwrap_or_default();
            }
        }
    }
    out.extend_from_slice(rest);
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(name: &str, filters: &[&str]) -> Channel {
        Channel {
            name: name.into(),
            prev_id: None,
            filters: filters.iter().map(|f| f.to_string()).collect(),
        }
    }

    fn meta(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn item(channel: &str, meta_pairs: &[(&str, &str)]) -> Item {
        Item {
            meta: meta(meta_pairs),
            ..Item::new(channel)
        }
    }

    fn delivered(f: &Filters, item: &Item) -> Option<String> {
        let content = Bytes::from_static(b"x");
        f.apply(item, None, &content)
            .unwrap()
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
    }

    #[test]
    fn sessions_without_filters_have_none() {
        assert!(Filters::new(&[channel("a", &[])], "", &[]).is_none());
    }

    #[test]
    fn skip_self_and_skip_users_read_the_session_user() {
        let f = Filters::new(
            &[channel("c", &["skip-self", "skip-users"])],
            "",
            &meta(&[("user", "alice")]),
        )
        .unwrap();
        assert!(delivered(&f, &item("c", &[("sender", "alice")])).is_none());
        assert!(delivered(&f, &item("c", &[("sender", "bob")])).is_some());
        assert!(delivered(&f, &item("c", &[("skip_users", "carol,alice")])).is_none());
        assert!(delivered(&f, &item("c", &[("skip_users", "carol")])).is_some());
        assert!(delivered(&f, &item("c", &[])).is_some());
    }

    #[test]
    fn require_sub_names_channels_without_the_route_prefix() {
        let f = Filters::new(
            &[channel("a", &["require-sub"]), channel("b", &[])],
            "p_",
            &[],
        )
        .unwrap();
        assert!(delivered(&f, &item("p_a", &[("require_sub", "b")])).is_some());
        assert!(delivered(&f, &item("p_a", &[("require_sub", "p_b")])).is_none());
        assert!(delivered(&f, &item("p_a", &[("require_sub", "z")])).is_none());
        // Only the filtered channel is filtered.
        assert!(delivered(&f, &item("p_b", &[("require_sub", "z")])).is_some());
    }

    #[test]
    fn var_subst_replaces_names_and_unknown_names_are_errors() {
        let lookup = |n: &str| match n {
            "user" => Some("alice"),
            "n" => Some("7"),
            _ => None,
        };
        assert_eq!(
            &substitute(b"hi %(user)s #%(n)s %%(x)s 100% %(", lookup).unwrap()[..],
            b"hi alice #7 %(x)s 100% %("
        );
        assert_eq!(
            substitute(b"%(nope)s", lookup),
            Err(FilterError::UnknownVariable("nope".into()))
        );
    }

    #[test]
    fn content_filters_when_given_must_match_the_channels() {
        let f = Filters::new(
            &[channel("c", &["var-subst", "skip-self"])],
            "",
            &meta(&[("user", "u")]),
        )
        .unwrap();
        let content = Bytes::from_static(b"%(user)s");
        let it = item("c", &[]);
        let same = vec!["var-subst".to_string()];
        assert_eq!(
            &f.apply(&it, Some(&same), &content).unwrap().unwrap()[..],
            b"u"
        );
        assert_eq!(&f.apply(&it, None, &content).unwrap().unwrap()[..], b"u");
        assert!(f.apply(&it, Some(&[]), &content).is_err());
        assert!(f.apply(&it, Some(&["build-id".into()]), &content).is_err());
    }

    #[test]
    fn build_id_renders_the_id_format_into_id_markers() {
        let plain = Filters::new(
            &[channel("c", &["build-id"])],
            "",
            &meta(&[("id_format", "p%%q")]),
        )
        .unwrap();
        let content = Bytes::from_static(b"x %I y %%I z");
        let out = plain
            .apply(&item("c", &[]), None, &content)
            .unwrap()
            .unwrap();
        assert_eq!(&out[..], b"x p%q y %I z");
        let stray = Bytes::from_static(b"100%");
        assert_eq!(
            plain.apply(&item("c", &[]), None, &stray),
            Err(FilterError::StrayPercent)
        );
        let hex = Filters::new(
            &[channel("c", &["build-id"])],
            "",
            &meta(&[("id_format", "abc"), ("id_encoding", "hex")]),
        )
        .unwrap();
        let marked = Bytes::from_static(b"[%I]");
        let out = hex.apply(&item("c", &[]), None, &marked).unwrap();
        assert_eq!(&out.unwrap()[..], b"[616263]");
    }

    #[test]
    fn build_id_without_a_usable_id_format_ends_the_session() {
        let x = Bytes::from_static(b"x");
        let none = Filters::new(&[channel("c", &["build-id"])], "", &[]).unwrap();
        assert_eq!(
            none.apply(&item("c", &[]), None, &x),
            Err(FilterError::NoIdFormat)
        );
        let variable = Filters::new(
            &[channel("c", &["build-id"])],
            "",
            &meta(&[("id_format", "a%(counter)sb")]),
        )
        .unwrap();
        assert!(variable.apply(&item("c", &[]), None, &x).is_err());
    }

    #[test]
    fn unknown_filters_are_ignored() {
        let f = Filters::new(&[channel("c", &["bogus"])], "", &[]).unwrap();
        assert_eq!(delivered(&f, &item("c", &[])).as_deref(), Some("x"));
    }
}
