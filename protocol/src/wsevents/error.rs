//! Why a WebSocket-over-HTTP body or a `c:` control message was rejected.
//!
//! Two enums, one per codec: [`Error`] for event bodies (§7.2) and [`ControlError`] for control
//! messages (§7.3). Both are small and `Copy`, carrying `&'static str` field names, so failing
//! never allocates. "Need more bytes" is not an error here: the incremental parser reports it as
//! [`super::Status::Partial`]; [`Error::Incomplete`] only means the body has ended.

/// A WebSocket-over-HTTP event body decoding error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The body ended inside an event: its header line or its content is cut short.
    #[error("websocket-events body ends inside an event")]
    Incomplete,
    /// A header line holds a CR or LF that is not part of its closing CRLF.
    #[error("websocket-events header line has a stray CR or LF")]
    BadHeader,
    /// A header line is longer than the limit allows, so it is not a header.
    #[error("websocket-events header line exceeds the length limit")]
    HeaderTooLong,
    /// The content length after the event name is empty or not hexadecimal.
    #[error("websocket-events content length is not hexadecimal")]
    BadLength,
    /// The content length is larger than the limit allows.
    #[error("websocket-events content exceeds the size limit")]
    TooLarge,
    /// The content is not followed by CRLF.
    #[error("websocket-events content is not followed by CRLF")]
    MissingCrlf,
    /// The body holds more events than the limit allows.
    #[error("websocket-events body has more events than the limit allows")]
    TooManyEvents,
}

impl Error {
    /// A stable snake_case id for this error, shared with the vectors and the SDKs.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Incomplete => "incomplete",
            Error::BadHeader => "bad_header",
            Error::HeaderTooLong => "header_too_long",
            Error::BadLength => "bad_length",
            Error::TooLarge => "too_large",
            Error::MissingCrlf => "missing_crlf",
            Error::TooManyEvents => "too_many_events",
        }
    }
}

/// A `c:` control message decoding error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The message does not start with `c:`.
    #[error("control message does not start with \"c:\"")]
    NotControl,
    /// What follows `c:` is not JSON.
    #[error("control message is not valid JSON")]
    BadJson,
    /// What follows `c:` is JSON but not an object.
    #[error("control message is not a JSON object")]
    NotObject,
    /// A required field is absent (or null).
    #[error("control message field {field} is missing")]
    MissingField {
        /// The field's JSON name.
        field: &'static str,
    },
    /// A field has the wrong JSON type.
    #[error("control message field {field} must be {expected}")]
    WrongType {
        /// The field's JSON name.
        field: &'static str,
        /// What it must be, in words: "a string", "a list of strings", …
        expected: &'static str,
    },
    /// A field that must not be empty is an empty string.
    #[error("control message field {field} must not be empty")]
    EmptyField {
        /// The field's JSON name.
        field: &'static str,
    },
    /// A field has the right type but a value outside the allowed set.
    #[error("control message field {field} must be {expected}")]
    BadValue {
        /// The field's JSON name.
        field: &'static str,
        /// The allowed values, in words.
        expected: &'static str,
    },
    /// `content-bin` is not base64.
    #[error("control message field content-bin is not base64")]
    BadBase64,
    /// Both `content` and `content-bin` are given, so the content is ambiguous.
    #[error("control message has both content and content-bin")]
    ConflictingContent,
}

impl ControlError {
    /// A stable snake_case id for this error, shared with the vectors and the SDKs.
    pub fn kind(&self) -> &'static str {
        match self {
            ControlError::NotControl => "not_control",
            ControlError::BadJson => "bad_json",
            ControlError::NotObject => "not_object",
            ControlError::MissingField { .. } => "missing_field",
            ControlError::WrongType { .. } => "wrong_type",
            ControlError::EmptyField { .. } => "empty_field",
            ControlError::BadValue { .. } => "bad_value",
            ControlError::BadBase64 => "bad_base64",
            ControlError::ConflictingContent => "conflicting_content",
        }
    }
}
