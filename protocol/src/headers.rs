//! An ordered list of HTTP header fields, as ZHTTP carries them (§2.2) and as publish items and
//! grip-instruct bodies spell them (§4.3, §5.1).
//!
//! Order is kept and a name may repeat (`Grip-Channel` may come several times; `Set-Cookie` must).
//! Names compare ASCII case-insensitively, values are bytes. Names and values are `Bytes`, so a
//! header decoded from a packet is a view into that packet, not a copy.

use bytes::Bytes;

/// Ordered header fields with case-insensitive name lookup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<(Bytes, Bytes)>);

impl Headers {
    /// An empty list.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// An empty list with room for `n` fields.
    pub fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    /// Appends a field, keeping any others of the same name.
    pub fn push(&mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) {
        self.0.push((name.into(), value.into()));
    }

    /// The number of fields, repeats included.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// All fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.0.iter().map(|(n, v)| (n, v))
    }

    /// The fields as a slice of `(name, value)` pairs.
    pub fn as_slice(&self) -> &[(Bytes, Bytes)] {
        &self.0
    }

    /// The value of the first field named `name`.
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The values of every field named `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// True when a field named `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Removes every field named `name`; returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.0.len();
        self.0
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name.as_bytes()));
        before - self.0.len()
    }

    /// Replaces every field named `name` with one field holding `value`, at the place of the first
    /// one (or at the end when there was none).
    pub fn set(&mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) {
        let name = name.into();
        let value = value.into();
        match self
            .0
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some(first) => {
                let mut index = 0;
                self.0.retain(|(n, _)| {
                    let keep = index <= first || !n.eq_ignore_ascii_case(&name);
                    index += 1;
                    keep
                });
                if let Some(slot) = self.0.get_mut(first) {
                    *slot = (name, value);
                }
            }
            None => self.0.push((name, value)),
        }
    }

    /// Keeps only the fields for which `keep(name, value)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&Bytes, &Bytes) -> bool) {
        self.0.retain(|(n, v)| keep(n, v));
    }
}

impl From<Vec<(Bytes, Bytes)>> for Headers {
    fn from(fields: Vec<(Bytes, Bytes)>) -> Self {
        Self(fields)
    }
}

impl From<Headers> for Vec<(Bytes, Bytes)> {
    fn from(headers: Headers) -> Self {
        headers.0
    }
}

impl<N: Into<Bytes>, V: Into<Bytes>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        )
    }
}

impl IntoIterator for Headers {
    type Item = (Bytes, Bytes);
    type IntoIter = std::vec::IntoIter<(Bytes, Bytes)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Headers {
        [
            ("Content-Type", "text/plain"),
            ("Grip-Channel", "a"),
            ("X-Other", "1"),
            ("grip-channel", "b"),
        ]
        .into_iter()
        .map(|(n, v)| {
            (
                Bytes::from_static(n.as_bytes()),
                Bytes::from_static(v.as_bytes()),
            )
        })
        .collect()
    }

    #[test]
    fn lookup_is_case_insensitive_and_ordered() {
        let h = sample();
        assert_eq!(h.get("content-type").unwrap(), "text/plain");
        let all: Vec<_> = h.get_all("GRIP-CHANNEL").collect();
        assert_eq!(all, ["a", "b"]);
        assert!(!h.contains("missing"));
    }

    #[test]
    fn set_replaces_all_at_first_place() {
        let mut h = sample();
        h.set("Grip-Channel", "c");
        let names: Vec<_> = h.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        assert_eq!(names.len(), 3);
        assert_eq!(names[1].1, "c");
        h.set("New", "v");
        assert_eq!(h.as_slice().last().unwrap().0, "New");
    }

    #[test]
    fn remove_counts() {
        let mut h = sample();
        assert_eq!(h.remove("grip-channel"), 2);
        assert_eq!(h.len(), 2);
    }
}
