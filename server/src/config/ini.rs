//! The INI dialect of `pushpin.conf` (§9), as Qt's QSettings reads it.
//!
//! `[section]` headers, `key=value` lines, `#` or `;` comment lines, whitespace trimmed around keys
//! and values. A value in double quotes is taken literally, with `\"` and `\\` escapes; an unquoted
//! value is taken as written (lists such as `services=a,b` are split by whoever reads the key).
//! A key repeated in one section keeps its last value, as QSettings does. Keys are case-sensitive.
//!
//! Limits: a file over [`MAX_FILE_SIZE`] or a line over [`MAX_LINE_LEN`] is refused, so a wrong
//! path (a log file, a device) fails fast instead of being read whole.

use std::collections::HashSet;

use super::error::{ConfigError, Located};

/// `pushpin.conf` is a few KiB; 1 MiB means the path is wrong.
pub(crate) const MAX_FILE_SIZE: usize = 1 << 20;
/// Longer than any real setting; stops a binary file from being read as one line.
pub(crate) const MAX_LINE_LEN: usize = 16 * 1024;

/// One `key=value` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) section: String,
    pub(crate) key: String,
    pub(crate) value: String,
    pub(crate) line: usize,
}

/// A parsed INI file: its entries in file order, later duplicates replacing earlier ones.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ini {
    entries: Vec<Entry>,
}

impl Ini {
    /// Parses `text`; `file` names it in errors. Every malformed line is reported, not just the first.
    pub(crate) fn parse(file: &str, text: &str) -> Result<Ini, Vec<ConfigError>> {
        if text.len() > MAX_FILE_SIZE {
            return Err(vec![ConfigError::file(file, "file is larger than 1 MiB")]);
        }
        let mut ini = Ini::default();
        let mut errors = Vec::new();
        let mut section = String::new();
        for (index, raw) in text.lines().enumerate() {
            let at = Located::new(file, index + 1);
            match parse_line(raw) {
                Ok(Line::Blank) => {}
                Ok(Line::Section(name)) => section = name.to_owned(),
                Ok(Line::Entry(key, value)) => ini.entries.push(Entry {
                    section: section.clone(),
                    key: key.to_owned(),
                    value,
                    line: at.line,
                }),
                Err(reason) => errors.push(at.error(reason)),
            }
        }
        if errors.is_empty() {
            ini.keep_last();
            Ok(ini)
        } else {
            Err(errors)
        }
    }

    /// Drops every entry that a later one with the same section and key replaces, in one pass:
    /// replacing as each line is read took time quadratic in the number of keys (minutes for a
    /// file near [`MAX_FILE_SIZE`]).
    fn keep_last(&mut self) {
        let mut seen = HashSet::new();
        let keep: Vec<bool> = self
            .entries
            .iter()
            .rev()
            .map(|e| seen.insert((e.section.as_str(), e.key.as_str())))
            .collect();
        let mut keep = keep.into_iter().rev();
        self.entries.retain(|_| keep.next().unwrap_or(true));
    }

    /// The entry for `section`/`key`, if present.
    pub(crate) fn get(&self, section: &str, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.section == section && e.key == key)
    }

    /// Every entry, in file order.
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

enum Line<'a> {
    Blank,
    Section(&'a str),
    Entry(&'a str, String),
}

fn parse_line(raw: &str) -> Result<Line<'_>, String> {
    if raw.len() > MAX_LINE_LEN {
        return Err(format!("line is longer than {MAX_LINE_LEN} bytes"));
    }
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
        return Ok(Line::Blank);
    }
    if let Some(rest) = line.strip_prefix('[') {
        let name = rest
            .strip_suffix(']')
            .ok_or("section header has no closing ']'")?;
        return Ok(Line::Section(name.trim()));
    }
    let (key, value) = line
        .split_once('=')
        .ok_or("expected 'key=value', '[section]' or a comment")?;
    let key = key.trim();
    if key.is_empty() {
        return Err("key is empty".into());
    }
    Ok(Line::Entry(key, unquote(value.trim())?))
}

/// A value as QSettings gives it: quoted values lose their quotes and escapes.
fn unquote(value: &str) -> Result<String, String> {
    let Some(inner) = value.strip_prefix('"') else {
        return Ok(value.to_owned());
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let rest: String = chars.collect();
                return if rest.trim().is_empty() {
                    Ok(out)
                } else {
                    Err(format!(
                        "unexpected text after closing quote: '{}'",
                        rest.trim()
                    ))
                };
            }
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("quoted value has no closing '\"'".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_comments() {
        let ini = Ini::parse(
            "t.conf",
            "# c\n[global]\nrundir=/var/run\n\n[proxy]\n; c\nsig_key = \"a \\\"b\\\"\"\nempty=\nsig_key=x\n",
        )
        .unwrap();
        assert_eq!(ini.get("global", "rundir").unwrap().value, "/var/run");
        assert_eq!(ini.get("proxy", "sig_key").unwrap().value, "x");
        assert_eq!(ini.get("proxy", "sig_key").unwrap().line, 9);
        assert_eq!(ini.get("proxy", "empty").unwrap().value, "");
        assert!(ini.get("global", "sig_key").is_none());
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_and_place() {
        let ini = Ini::parse("t.conf", "a=1\nb=2\n[s]\na=3\n[]\na=4\nc=5\n").unwrap();
        let entries: Vec<_> = ini
            .entries()
            .iter()
            .map(|e| (e.section.as_str(), e.key.as_str(), e.value.as_str(), e.line))
            .collect();
        assert_eq!(
            entries,
            [
                ("", "b", "2", 2),
                ("s", "a", "3", 4),
                ("", "a", "4", 6),
                ("", "c", "5", 7)
            ]
        );
    }

    #[test]
    fn many_keys_parse_in_linear_time() {
        // 100,000 distinct keys (about 1 MiB): quadratic replacement took minutes here.
        let text: String = (0..100_000).map(|i| format!("k{i}=v\n")).collect();
        let ini = Ini::parse("t.conf", &text).unwrap();
        assert_eq!(ini.entries().len(), 100_000);
    }

    #[test]
    fn quoted_values() {
        assert_eq!(unquote("\"a,b\"").unwrap(), "a,b");
        assert_eq!(unquote("plain \"x\"").unwrap(), "plain \"x\"");
        assert!(unquote("\"open").is_err());
        assert!(unquote("\"a\" b").is_err());
    }

    #[test]
    fn every_bad_line_is_reported() {
        let errors = Ini::parse("t.conf", "[ok]\nnot a setting\n[broken\n=v\n").unwrap_err();
        let lines: Vec<_> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("t.conf:2: "), "{}", lines[0]);
        assert!(lines[1].starts_with("t.conf:3: "), "{}", lines[1]);
        assert!(
            lines[2].starts_with("t.conf:4: key is empty"),
            "{}",
            lines[2]
        );
    }
}
