//! Why a publish was rejected, in Pushpin's words (§5.2, §5.3).
//!
//! Two layers, as Pushpin reports them:
//! - [`ItemError`]: one item is invalid. Its `Display` is Pushpin's item text, byte for byte
//!   (each was read off a running Pushpin 1.36), e.g. `'http-stream' does not contain 'content'
//!   or 'content-bin'`. The HTTP endpoint answers `Invalid format: <text>`; the ZMQ inputs log
//!   `received message with invalid format: <text>`.
//! - [`Error`]: what a whole request body or ZMQ message gave. Its `Display` is the text Pushpin
//!   shows where that failure surfaces: the HTTP 400 body (without the final newline) for body
//!   errors and item errors (`Invalid format: <item text>`, also the `publish` command's
//!   `bad-request` value), and the text Pushpin logs in parentheses for ZMQ framing errors.
//!
//! Both have a stable snake_case `kind()`; [`Error::kind`] of an item error is the item's kind.
//! Failing allocates nothing: texts are static, and the one dynamic part (a meta key or header
//! name) is a `Bytes` view of the input.

use std::fmt;

use bytes::Bytes;

use super::Format;
use crate::tnetstring;

/// Why one publish item was rejected. `Display` gives Pushpin's text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    /// The item is not an object (dict).
    #[error("publish item object is not an object")]
    NotObject,
    /// The item has no `channel`.
    #[error("publish item object does not contain 'channel'")]
    MissingChannel,
    /// A field of the item (`format: None`) or of a format has the wrong type.
    #[error("{} contains '{field}' with wrong type", Within(*.format))]
    WrongType {
        /// The format holding the field, or `None` for the item itself.
        format: Option<Format>,
        /// The field's key.
        field: &'static str,
    },
    /// A field has the right type but a value out of range (a negative `size`, a `code` over
    /// 999) or, for `-bin` fields, text that is not base64.
    #[error("{} contains '{field}' with invalid value", Within(*.format))]
    InvalidValue {
        /// The format holding the field, or `None` for the item itself.
        format: Option<Format>,
        /// The field's key.
        field: &'static str,
    },
    /// A `ws-message` `type` other than `text`, `binary`, `ping` or `pong`.
    #[error("'ws-message' contains 'type' with unknown value")]
    UnknownType,
    /// `formats` is empty, or the item names no known format.
    #[error("no formats specified")]
    NoFormats,
    /// A format's value is not an object.
    #[error("'{}' is not an object", .0.as_str())]
    FormatNotObject(Format),
    /// A `send` has none of the content fields its format needs. `expected` lists them, in
    /// Pushpin's words for the input (tnetstring input has no `-bin` fields for HTTP formats).
    #[error("'{}' does not contain {expected}", .format.as_str())]
    MissingContent {
        /// The format.
        format: Format,
        /// The fields looked for, e.g. `'content' or 'content-bin'`.
        expected: &'static str,
    },
    /// An `action` other than `send`, `hint`, `close` or `refresh`. Pushpin's text is empty.
    #[error("")]
    UnknownAction,
    /// A `meta` value is not a string. Of several, the first key in byte order is named, as
    /// Pushpin (which keeps meta in a sorted map) reports.
    #[error("'meta' contains '{}' with wrong type", Lossy(.0))]
    MetaWrongType(Bytes),
    /// A `headers` object has a value that is not a string (first such name in byte order).
    #[error("headers contains '{}' with wrong type", Lossy(.0))]
    HeaderWrongType(Bytes),
    /// A `headers` list has an element that is not a list.
    #[error("headers contains element with wrong type")]
    HeadersElementWrongType,
    /// A `headers` list has a pair without exactly two elements.
    #[error("headers contains list with wrong number of elements")]
    HeaderPairLength,
    /// A header pair's name is not a string.
    #[error("header contains name element with wrong type")]
    HeaderNameWrongType,
    /// A header pair's value is not a string.
    #[error("header contains value element with wrong type")]
    HeaderValueWrongType,
    /// A `content-filters` element is not a string.
    #[error("content-filters contains element with wrong type")]
    ContentFilterWrongType,
}

impl ItemError {
    /// A stable snake_case id for this error, shared with the vectors and the SDKs.
    pub fn kind(&self) -> &'static str {
        match self {
            ItemError::NotObject => "item_not_object",
            ItemError::MissingChannel => "missing_channel",
            ItemError::WrongType { .. } => "wrong_type",
            ItemError::InvalidValue { .. } => "invalid_value",
            ItemError::UnknownType => "unknown_type",
            ItemError::NoFormats => "no_formats",
            ItemError::FormatNotObject(_) => "format_not_object",
            ItemError::MissingContent { .. } => "missing_content",
            ItemError::UnknownAction => "unknown_action",
            ItemError::MetaWrongType(_) => "meta_wrong_type",
            ItemError::HeaderWrongType(_) => "header_wrong_type",
            ItemError::HeadersElementWrongType => "headers_element_wrong_type",
            ItemError::HeaderPairLength => "header_pair_length",
            ItemError::HeaderNameWrongType => "header_name_wrong_type",
            ItemError::HeaderValueWrongType => "header_value_wrong_type",
            ItemError::ContentFilterWrongType => "content_filter_wrong_type",
        }
    }
}

/// Why a publish request body, command or ZMQ message was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// HTTP: the body is not a JSON object or array (Pushpin's JSON reader takes no other
    /// top-level value).
    #[error("Body is not valid JSON.")]
    BodyNotJson,
    /// HTTP or command: the body is JSON but not an object.
    #[error("Invalid format.")]
    BodyNotObject,
    /// HTTP or command: no `items`.
    #[error("Invalid format: object does not contain 'items'")]
    NoItems,
    /// HTTP or command: `items` is not a list.
    #[error("Invalid format: object contains 'items' with wrong type")]
    ItemsWrongType,
    /// ZMQ: the tnetstring payload (bare or after `T`) is malformed or over the limits.
    #[error("tnetstring parse failed")]
    Tnetstring(tnetstring::Error),
    /// ZMQ: the payload after `J` is not a JSON object or array.
    #[error("json parse failed")]
    Json,
    /// ZMQ: the payload after `J` is a JSON array.
    #[error("not a valid json object")]
    JsonNotObject,
    /// An item is invalid; one bad item rejects a whole HTTP batch.
    #[error("Invalid format: {0}")]
    Item(#[from] ItemError),
}

impl Error {
    /// A stable snake_case id for this error; an item error gives the item's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::BodyNotJson => "body_not_json",
            Error::BodyNotObject => "body_not_object",
            Error::NoItems => "no_items",
            Error::ItemsWrongType => "items_wrong_type",
            Error::Tnetstring(_) => "bad_tnetstring",
            Error::Json => "bad_json",
            Error::JsonNotObject => "json_not_object",
            Error::Item(e) => e.kind(),
        }
    }

    /// The item error, if this is one (for logging Pushpin's ZMQ text).
    pub fn item(&self) -> Option<&ItemError> {
        match self {
            Error::Item(e) => Some(e),
            _ => None,
        }
    }
}

/// "publish item object" or "'<format>'": how Pushpin names the object holding a field.
struct Within(Option<Format>);

impl fmt::Display for Within {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("publish item object"),
            Some(format) => write!(f, "'{}'", format.as_str()),
        }
    }
}

/// Bytes from the input shown as text, invalid UTF-8 replaced.
struct Lossy<'a>(&'a Bytes);

impl fmt::Display for Lossy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_pushpins() {
        let cases: &[(ItemError, &str)] = &[
            (
                ItemError::WrongType {
                    format: None,
                    field: "channel",
                },
                "publish item object contains 'channel' with wrong type",
            ),
            (
                ItemError::InvalidValue {
                    format: Some(Format::HttpResponse),
                    field: "code",
                },
                "'http-response' contains 'code' with invalid value",
            ),
            (
                ItemError::MissingContent {
                    format: Format::HttpStream,
                    expected: "'content' or 'content-bin'",
                },
                "'http-stream' does not contain 'content' or 'content-bin'",
            ),
            (
                ItemError::FormatNotObject(Format::WsMessage),
                "'ws-message' is not an object",
            ),
            (ItemError::UnknownAction, ""),
            (
                ItemError::MetaWrongType(Bytes::from_static(b"a\xff")),
                "'meta' contains 'a\u{fffd}' with wrong type",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), *text);
        }
        assert_eq!(
            Error::from(ItemError::NoFormats).to_string(),
            "Invalid format: no formats specified"
        );
        assert_eq!(Error::from(ItemError::NoFormats).kind(), "no_formats");
    }
}
