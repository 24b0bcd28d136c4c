//! Why GRIP instructions were rejected, and why an [`Instruct`](super::Instruct) could not be
//! rendered.
//!
//! Each message is Pushpin 1.36's own text where Pushpin has one: the server shows it after
//! `Failed to parse accept instructions: ` in a debug-mode 502, as Pushpin does. The texts were
//! read off a running Pushpin (the vectors record each one). Errors Pushpin does not have (gripway
//! rejects input it silently mangles) follow the same style. Payloads are `&'static str`, views of
//! the input (`Bytes`), or a key moved out of the parsed JSON, so failing never allocates.

use bytes::Bytes;

use super::params;

/// A GRIP instruction error. [`Error::kind`] gives its stable id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    // === headers (§4.2) ===
    /// `Grip-Hold` is neither `response` nor `stream`.
    #[error("Grip-Hold must be set to either 'response' or 'stream'")]
    BadHold,
    /// `Grip-Timeout` is not a decimal integer that fits 32 bits.
    #[error("failed to parse Grip-Timeout")]
    BadTimeout,
    /// `Grip-Timeout` is negative.
    #[error("Grip-Timeout has invalid value")]
    InvalidTimeout,
    /// `Grip-Keep-Alive` has no data before its parameters.
    #[error("Grip-Keep-Alive cannot be empty")]
    EmptyKeepAlive,
    /// `Grip-Keep-Alive`'s `format` is not `raw`, `cstring` or `base64`.
    #[error("no such Grip-Keep-Alive format '{}'", String::from_utf8_lossy(.0))]
    BadKeepAliveFormat(Bytes),
    /// `Grip-Keep-Alive`'s `mode` is not `idle` or `interval`.
    #[error("no such Grip-Keep-Alive mode '{}'", String::from_utf8_lossy(.0))]
    BadKeepAliveMode(Bytes),
    /// `Grip-Keep-Alive` data in `cstring` format has a bad escape.
    #[error("failed to parse Grip-Keep-Alive cstring format")]
    BadKeepAliveCstring,
    /// `Grip-Keep-Alive` data in `base64` format is not base64.
    #[error("failed to parse Grip-Keep-Alive base64 format")]
    BadKeepAliveBase64,
    /// `Grip-Keep-Alive`'s `timeout` is not a decimal integer that fits 32 bits.
    #[error("failed to parse Grip-Keep-Alive timeout value")]
    BadKeepAliveTimeout,
    /// `Grip-Keep-Alive`'s `timeout` is negative.
    #[error("Grip-Keep-Alive timeout has invalid value")]
    InvalidKeepAliveTimeout,
    /// `Grip-Status` does not start with a code from 0 to 999.
    #[error("Grip-Status contains invalid status code")]
    BadStatus,
    /// A `Grip-Link` with `rel=next` or `rel=gone` has no `<URI>`, or an empty one.
    #[error("failed to parse Grip-Link value")]
    BadLink,
    /// A `Grip-Link`'s `timeout` is not a decimal integer that fits 32 bits.
    #[error("failed to parse Grip-Link timeout value")]
    BadLinkTimeout,
    /// A `Grip-Link`'s `timeout` is negative.
    #[error("Grip-Link timeout has invalid value")]
    InvalidLinkTimeout,
    /// A header's parameter syntax is broken (see [`params`]).
    #[error("failed to parse {header}: {source}")]
    Params {
        /// The header, e.g. `Grip-Channel`.
        header: &'static str,
        /// What was wrong with it.
        source: params::Error,
    },
    /// A channel name, `prev-id`, filter, meta entry or link is not UTF-8.
    #[error("{header} is not valid UTF-8")]
    NotUtf8 {
        /// The header it came from.
        header: &'static str,
    },

    // === application/grip-instruct (§4.3) ===
    /// A grip-instruct body came with a status other than 200.
    #[error("response code for application/grip-instruct content must be 200")]
    InstructStatus,
    /// A grip-instruct body is larger than [`Limits::max_json_body`](super::Limits).
    #[error("GRIP instruct response too large")]
    TooLarge,
    /// A grip-instruct body is not a JSON object or array (or nests deeper than 128 levels).
    #[error("failed to parse application/grip-instruct content as JSON")]
    BadJson,
    /// A grip-instruct body is a JSON array.
    #[error("instruct must be an object")]
    InstructNotObject,
    /// A required field is missing.
    #[error("{object} does not contain '{field}'")]
    MissingField {
        /// The object, e.g. `hold`.
        object: &'static str,
        /// The field, e.g. `channels`.
        field: &'static str,
    },
    /// A field has the wrong JSON type.
    #[error("{object} contains '{field}' with wrong type")]
    WrongType {
        /// The object, e.g. `hold`.
        object: &'static str,
        /// The field, e.g. `timeout`.
        field: &'static str,
    },
    /// A field has the right type but a value out of range (or base64 that does not decode).
    #[error("{object} contains '{field}' with invalid value")]
    InvalidValue {
        /// The object, e.g. `response`.
        object: &'static str,
        /// The field, e.g. `code`.
        field: &'static str,
    },
    /// `hold.mode` is neither `response` nor `stream`.
    #[error("hold 'mode' must be set to either 'response' or 'stream'")]
    BadHoldMode,
    /// An element of `hold.channels` is not an object.
    #[error("channel is not an object")]
    ChannelNotObject,
    /// An element of a channel's `filters` is not a string.
    #[error("filters contains value with wrong type")]
    FilterWrongType,
    /// A `hold.meta` value is not a string.
    #[error("'meta' contains '{0}' with wrong type")]
    MetaWrongType(String),
    /// A value of `response.headers` given as an object is not a string.
    #[error("headers contains '{0}' with wrong type")]
    HeaderWrongType(String),
    /// An element of `response.headers` given as a list is not a list.
    #[error("headers contains element with wrong type")]
    HeaderElementWrongType,
    /// An element of `response.headers` given as a list is not a `[name, value]` pair.
    #[error("headers contains list with wrong number of elements")]
    HeaderPairLength,
    /// A header name in `response.headers` given as a list is not a string.
    #[error("header contains name element with wrong type")]
    HeaderNameWrongType,
    /// A header value in `response.headers` given as a list is not a string.
    #[error("header contains value element with wrong type")]
    HeaderValueWrongType,

    // === limits ===
    /// More channels than [`Limits::max_channels`](super::Limits).
    #[error("too many channels")]
    TooManyChannels,
    /// A channel with more filters than [`Limits::max_filters`](super::Limits).
    #[error("too many filters")]
    TooManyFilters,
    /// More meta entries than [`Limits::max_meta`](super::Limits).
    #[error("too many meta entries")]
    TooManyMeta,
    /// More grip-instruct response headers than [`Limits::max_headers`](super::Limits).
    #[error("too many response headers")]
    TooManyHeaders,
}

impl Error {
    /// A stable snake_case id for this error, shared with the vectors and the SDKs. A parameter
    /// syntax error reports the [`params::Error`] kind (`unterminated_quote`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::BadHold => "bad_hold",
            Error::BadTimeout => "bad_timeout",
            Error::InvalidTimeout => "invalid_timeout",
            Error::EmptyKeepAlive => "empty_keep_alive",
            Error::BadKeepAliveFormat(_) => "bad_keep_alive_format",
            Error::BadKeepAliveMode(_) => "bad_keep_alive_mode",
            Error::BadKeepAliveCstring => "bad_keep_alive_cstring",
            Error::BadKeepAliveBase64 => "bad_keep_alive_base64",
            Error::BadKeepAliveTimeout => "bad_keep_alive_timeout",
            Error::InvalidKeepAliveTimeout => "invalid_keep_alive_timeout",
            Error::BadStatus => "bad_status",
            Error::BadLink => "bad_link",
            Error::BadLinkTimeout => "bad_link_timeout",
            Error::InvalidLinkTimeout => "invalid_link_timeout",
            Error::Params { source, .. } => source.kind(),
            Error::NotUtf8 { .. } => "not_utf8",
            Error::InstructStatus => "instruct_status",
            Error::TooLarge => "too_large",
            Error::BadJson => "bad_json",
            Error::InstructNotObject => "instruct_not_object",
            Error::MissingField { .. } => "missing_field",
            Error::WrongType { .. } => "wrong_type",
            Error::InvalidValue { .. } => "invalid_value",
            Error::BadHoldMode => "bad_hold_mode",
            Error::ChannelNotObject => "channel_not_object",
            Error::FilterWrongType => "filter_wrong_type",
            Error::MetaWrongType(_) => "meta_wrong_type",
            Error::HeaderWrongType(_) => "header_wrong_type",
            Error::HeaderElementWrongType => "header_element_wrong_type",
            Error::HeaderPairLength => "header_pair_length",
            Error::HeaderNameWrongType => "header_name_wrong_type",
            Error::HeaderValueWrongType => "header_value_wrong_type",
            Error::TooManyChannels => "too_many_channels",
            Error::TooManyFilters => "too_many_filters",
            Error::TooManyMeta => "too_many_meta",
            Error::TooManyHeaders => "too_many_headers",
        }
    }

    /// Wraps a parameter syntax error with the header it came from.
    pub(crate) fn params(header: &'static str) -> impl Fn(params::Error) -> Error {
        move |source| Error::Params { header, source }
    }
}

/// Why an [`Instruct`](super::Instruct) cannot be written in the requested form: some part of it
/// would not parse back to the same value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} cannot be represented in this form")]
pub struct RenderError {
    /// The part that cannot be written, e.g. `channel name` or `response headers`.
    pub field: &'static str,
}

impl RenderError {
    /// A stable snake_case id, shared with the SDKs: always `unrepresentable`.
    pub fn kind(&self) -> &'static str {
        "unrepresentable"
    }
}
