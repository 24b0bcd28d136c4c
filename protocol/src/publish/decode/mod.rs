//! The item rules (§5.1), written once over the decoded tree that JSON and tnetstring input
//! both become.
//!
//! Fields are checked in Pushpin's order, so that an item with several faults gets the error
//! Pushpin gives: `channel`, `id`, `prev-id`, `formats`, then the formats (`http-response`,
//! `http-stream`, `ws-message`), then `meta`, `size`, `no-seq`. Within a format: `action`, then
//! for `send` `code`, `reason`, `headers`, `content-filters`, then the content fields, binary
//! first (`body-bin`, `body`, `body-patch`; `content-bin`, `content`). The first content field
//! present wins and the others are not read; `ws-message` checks `type` before the filters.
//!
//! The two inputs differ only where [`Dialect`] says.

mod fields;
pub(super) mod json;

use bytes::Bytes;

use self::fields::Entries;
use super::{Action, Format, HttpResponse, HttpStream, Item, ItemError, WsMessage, WsMessageType};
use crate::tnetstring::Value;
use crate::Headers;

/// Which input an item came from: the few rules that differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialect {
    /// JSON text: strings only, so binary content is base64 in `body-bin` and `content-bin`.
    Json,
    /// Tnetstring: byte strings are used as they are; `body-bin` and `content-bin` are not
    /// recognised for the HTTP formats, and `ws-message` `content-bin` is raw bytes.
    Tnetstring,
}

/// Decodes one item. `channel`, when given, replaces the item's own, which is then not read
/// (the ZMQ SUB input, §5.4).
pub(super) fn item(
    value: &Value,
    dialect: Dialect,
    channel: Option<String>,
) -> Result<Item, ItemError> {
    let Value::Dict(entries) = value else {
        return Err(ItemError::NotObject);
    };
    let channel = match channel {
        Some(channel) => channel,
        None => text(entries, "channel", None)?.ok_or(ItemError::MissingChannel)?,
    };
    let id = text(entries, "id", None)?;
    let prev_id = text(entries, "prev-id", None)?;
    // Legacy form: without `formats`, the format keys sit on the item itself.
    let formats = match fields::get(entries, "formats") {
        Some(Value::Dict(formats)) => formats,
        Some(_) => return Err(wrong_type(None, "formats")),
        None => entries,
    };
    let reader = Reader { dialect };
    let http_response = reader.format(formats, Format::HttpResponse, |r, e| r.http_response(e))?;
    let http_stream = reader.format(formats, Format::HttpStream, |r, e| r.http_stream(e))?;
    let ws_message = reader.format(formats, Format::WsMessage, |r, e| r.ws_message(e))?;
    if http_response.is_none() && http_stream.is_none() && ws_message.is_none() {
        return Err(ItemError::NoFormats);
    }
    Ok(Item {
        channel,
        id,
        prev_id,
        meta: meta(entries)?,
        size: size(entries)?,
        no_seq: no_seq(entries)?,
        http_response,
        http_stream,
        ws_message,
    })
}

struct Reader {
    dialect: Dialect,
}

impl Reader {
    /// Decodes the format `format` if present, with `decode` given its entries.
    fn format<T>(
        &self,
        formats: &Entries,
        format: Format,
        decode: impl FnOnce(&Self, &Entries) -> Result<T, ItemError>,
    ) -> Result<Option<T>, ItemError> {
        match fields::get(formats, format.as_str()) {
            None => Ok(None),
            Some(Value::Dict(entries)) => decode(self, entries).map(Some),
            Some(_) => Err(ItemError::FormatNotObject(format)),
        }
    }

    fn http_response(&self, entries: &Entries) -> Result<HttpResponse, ItemError> {
        const F: Option<Format> = Some(Format::HttpResponse);
        let action = action(entries, Format::HttpResponse)?;
        if action != Action::Send {
            return Ok(HttpResponse::with_action(action));
        }
        let code = uint(entries, "code", F, 999u16)?;
        let reason = text(entries, "reason", F)?;
        let headers = headers(entries)?;
        let content_filters = content_filters(entries, F)?;
        let (body, body_patch) = if let Some(body) = self.binary(entries, "body-bin", F)? {
            (body, None)
        } else if let Some(body) = fields::get(entries, "body") {
            (bytes(body, F, "body")?, None)
        } else if let Some(patch) = fields::get(entries, "body-patch") {
            (Bytes::new(), Some(body_patch(patch)?))
        } else {
            return Err(ItemError::MissingContent {
                format: Format::HttpResponse,
                expected: match self.dialect {
                    Dialect::Json => "'body', 'body-bin', or 'body-patch'",
                    Dialect::Tnetstring => "'body' or 'body-patch'",
                },
            });
        };
        Ok(HttpResponse {
            action,
            code,
            reason,
            headers,
            body,
            body_patch,
            content_filters,
        })
    }

    fn http_stream(&self, entries: &Entries) -> Result<HttpStream, ItemError> {
        const F: Option<Format> = Some(Format::HttpStream);
        let action = action(entries, Format::HttpStream)?;
        if action != Action::Send {
            return Ok(HttpStream::with_action(action));
        }
        let content_filters = content_filters(entries, F)?;
        let content = if let Some(content) = self.binary(entries, "content-bin", F)? {
            content
        } else if let Some(content) = fields::get(entries, "content") {
            bytes(content, F, "content")?
        } else {
            return Err(ItemError::MissingContent {
                format: Format::HttpStream,
                expected: match self.dialect {
                    Dialect::Json => "'content' or 'content-bin'",
                    Dialect::Tnetstring => "'content'",
                },
            });
        };
        Ok(HttpStream {
            action,
            content,
            content_filters,
        })
    }

    fn ws_message(&self, entries: &Entries) -> Result<WsMessage, ItemError> {
        const F: Option<Format> = Some(Format::WsMessage);
        let action = action(entries, Format::WsMessage)?;
        match action {
            Action::Send => {}
            Action::Close => {
                let code = uint(entries, "code", F, u16::MAX)?;
                let reason = text(entries, "reason", F)?;
                return Ok(WsMessage::close(code, reason));
            }
            Action::Hint | Action::Refresh => return Ok(WsMessage::with_action(action)),
        }
        let explicit_type = match fields::get(entries, "type") {
            None => None,
            Some(Value::Bytes(t)) => {
                Some(WsMessageType::from_wire(t).ok_or(ItemError::UnknownType)?)
            }
            Some(_) => return Err(wrong_type(F, "type")),
        };
        let content_filters = content_filters(entries, F)?;
        // In tnetstring, ws-message `content-bin` is recognised, as raw bytes.
        let binary = match self.dialect {
            Dialect::Json => self.binary(entries, "content-bin", F)?,
            Dialect::Tnetstring => fields::get(entries, "content-bin")
                .map(|v| bytes(v, F, "content-bin"))
                .transpose()?,
        };
        let (implied_type, content) = if let Some(content) = binary {
            (WsMessageType::Binary, content)
        } else if let Some(content) = fields::get(entries, "content") {
            (WsMessageType::Text, bytes(content, F, "content")?)
        } else if let Some(t @ (WsMessageType::Ping | WsMessageType::Pong)) = explicit_type {
            (t, Bytes::new())
        } else {
            return Err(ItemError::MissingContent {
                format: Format::WsMessage,
                expected: "'content' or 'content-bin'",
            });
        };
        Ok(WsMessage {
            action,
            message_type: explicit_type.unwrap_or(implied_type),
            content,
            close_code: None,
            close_reason: None,
            content_filters,
        })
    }

    /// A base64 `-bin` field of an HTTP format (JSON only; tnetstring has no such field).
    fn binary(
        &self,
        entries: &Entries,
        key: &'static str,
        format: Option<Format>,
    ) -> Result<Option<Bytes>, ItemError> {
        if self.dialect == Dialect::Tnetstring {
            return Ok(None);
        }
        let Some(value) = fields::get(entries, key) else {
            return Ok(None);
        };
        let text = bytes(value, format, key)?;
        fields::base64(&text)
            .map(Some)
            .ok_or(ItemError::InvalidValue { format, field: key })
    }
}

fn wrong_type(format: Option<Format>, field: &'static str) -> ItemError {
    ItemError::WrongType { format, field }
}

/// A string field's bytes.
fn bytes(value: &Value, format: Option<Format>, key: &'static str) -> Result<Bytes, ItemError> {
    fields::bytes(value).cloned().ok_or(wrong_type(format, key))
}

/// An optional text field.
fn text(
    entries: &Entries,
    key: &'static str,
    format: Option<Format>,
) -> Result<Option<String>, ItemError> {
    fields::get(entries, key)
        .map(|v| fields::text(v).ok_or(wrong_type(format, key)))
        .transpose()
}

/// An optional integer field that must lie in `0..=max`.
fn uint<T: TryFrom<i64> + PartialOrd>(
    entries: &Entries,
    key: &'static str,
    format: Option<Format>,
    max: T,
) -> Result<Option<T>, ItemError> {
    let Some(value) = fields::get(entries, key) else {
        return Ok(None);
    };
    let i = fields::int(value).ok_or(wrong_type(format, key))?;
    T::try_from(i)
        .ok()
        .filter(|n| *n <= max)
        .map(Some)
        .ok_or(ItemError::InvalidValue { format, field: key })
}

fn action(entries: &Entries, format: Format) -> Result<Action, ItemError> {
    match fields::get(entries, "action") {
        None => Ok(Action::Send),
        Some(Value::Bytes(a)) => Action::from_wire(a).ok_or(ItemError::UnknownAction),
        Some(_) => Err(wrong_type(Some(format), "action")),
    }
}

fn content_filters(
    entries: &Entries,
    format: Option<Format>,
) -> Result<Option<Vec<String>>, ItemError> {
    match fields::get(entries, "content-filters") {
        None => Ok(None),
        Some(Value::List(items)) => items
            .iter()
            .map(|v| fields::text(v).ok_or(ItemError::ContentFilterWrongType))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(wrong_type(format, "content-filters")),
    }
}

/// `headers`: an object of name → value, or a list of `[name, value]` pairs.
fn headers(entries: &Entries) -> Result<Headers, ItemError> {
    match fields::get(entries, "headers") {
        None => Ok(Headers::new()),
        Some(Value::Dict(map)) => {
            let mut out = Headers::with_capacity(map.len());
            let mut first_bad: Option<&Bytes> = None;
            for (name, value) in fields::last_of_each(map) {
                match fields::bytes(value) {
                    Some(value) => out.push(name.clone(), value.clone()),
                    // Of several bad values, Pushpin names the first name in its sorted map.
                    None => first_bad = Some(first_bad.map_or(name, |bad| bad.min(name))),
                }
            }
            match first_bad {
                Some(name) => Err(ItemError::HeaderWrongType(name.clone())),
                None => Ok(out),
            }
        }
        Some(Value::List(pairs)) => pairs.iter().map(header_pair).collect(),
        Some(_) => Err(wrong_type(Some(Format::HttpResponse), "headers")),
    }
}

fn header_pair(pair: &Value) -> Result<(Bytes, Bytes), ItemError> {
    let Value::List(pair) = pair else {
        return Err(ItemError::HeadersElementWrongType);
    };
    let [name, value] = pair.as_slice() else {
        return Err(ItemError::HeaderPairLength);
    };
    let name = fields::bytes(name).ok_or(ItemError::HeaderNameWrongType)?;
    let value = fields::bytes(value).ok_or(ItemError::HeaderValueWrongType)?;
    Ok((name.clone(), value.clone()))
}

fn body_patch(patch: &Value) -> Result<Vec<serde_json::Value>, ItemError> {
    let wrong = || wrong_type(Some(Format::HttpResponse), "body-patch");
    let Value::List(ops) = patch else {
        return Err(wrong());
    };
    ops.iter()
        .map(|op| fields::to_json(op).ok_or_else(wrong))
        .collect()
}

fn meta(entries: &Entries) -> Result<Vec<(String, String)>, ItemError> {
    let Some(meta) = fields::get(entries, "meta") else {
        return Ok(Vec::new());
    };
    let Value::Dict(map) = meta else {
        return Err(wrong_type(None, "meta"));
    };
    let mut out = Vec::with_capacity(map.len());
    let mut first_bad: Option<&Bytes> = None;
    for (key, value) in fields::last_of_each(map) {
        match (std::str::from_utf8(key), fields::text(value)) {
            (Ok(k), Some(v)) => out.push((k.to_owned(), v)),
            // Of several bad entries, Pushpin names the first key in its sorted map.
            _ => first_bad = Some(first_bad.map_or(key, |bad| bad.min(key))),
        }
    }
    match first_bad {
        Some(key) => Err(ItemError::MetaWrongType(key.clone())),
        None => Ok(out),
    }
}

fn size(entries: &Entries) -> Result<Option<u32>, ItemError> {
    uint(entries, "size", None, Item::MAX_SIZE)
}

fn no_seq(entries: &Entries) -> Result<bool, ItemError> {
    match fields::get(entries, "no-seq") {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(wrong_type(None, "no-seq")),
    }
}

#[cfg(test)]
mod tests;
