//! Reading the fields of a control message's JSON object (§7.3), with Pushpin's defaults.
//!
//! Each getter names the field it reads in its error. JSON `null` counts as absent; a field of
//! the wrong JSON type is an error rather than a `QVariant`-style conversion (see the parent
//! module for the reasons).

use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::{
    ControlMessage, KeepAlive, KeepAliveMode, MessageType, SendDelayed, DEFAULT_KEEP_ALIVE_TIMEOUT,
    DEFAULT_SEND_DELAYED_TIMEOUT,
};
use crate::wsevents::ControlError;

/// The fields of one control message's JSON object, with typed, error-reporting getters.
pub(super) struct Fields<'a>(pub(super) &'a Map<String, Value>);

impl Fields<'_> {
    pub(super) fn message(&self) -> Result<ControlMessage, ControlError> {
        let type_name = self.required_str("type")?;
        Ok(match type_name {
            "subscribe" => ControlMessage::Subscribe {
                channel: self.non_empty_str("channel")?.to_owned(),
                filters: self.filters()?,
            },
            "unsubscribe" => ControlMessage::Unsubscribe {
                channel: self.required_str("channel")?.to_owned(),
            },
            "detach" => ControlMessage::Detach,
            "session" => ControlMessage::Session {
                id: self.required_str("id")?.to_owned(),
            },
            "set-meta" => ControlMessage::SetMeta {
                name: self.non_empty_str("name")?.to_owned(),
                value: self.str("value")?.map(str::to_owned),
            },
            "keep-alive" => ControlMessage::KeepAlive(KeepAlive {
                content: self.content()?,
                message_type: self.message_type()?,
                timeout: self.timeout(DEFAULT_KEEP_ALIVE_TIMEOUT)?,
                mode: self.mode()?,
            }),
            "send-delayed" => ControlMessage::SendDelayed(SendDelayed {
                content: self.content()?,
                message_type: self.message_type()?,
                timeout: self.timeout(DEFAULT_SEND_DELAYED_TIMEOUT)?,
            }),
            "flush-delayed" => ControlMessage::FlushDelayed,
            other => ControlMessage::Unknown {
                type_name: other.to_owned(),
            },
        })
    }

    /// A field's value; JSON `null` counts as absent.
    fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    fn str(&self, field: &'static str) -> Result<Option<&str>, ControlError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ControlError::WrongType {
                field,
                expected: "a string",
            }),
        }
    }

    fn required_str(&self, field: &'static str) -> Result<&str, ControlError> {
        self.str(field)?.ok_or(ControlError::MissingField { field })
    }

    fn non_empty_str(&self, field: &'static str) -> Result<&str, ControlError> {
        match self.required_str(field)? {
            "" => Err(ControlError::EmptyField { field }),
            s => Ok(s),
        }
    }

    fn filters(&self) -> Result<Vec<String>, ControlError> {
        const WRONG: ControlError = ControlError::WrongType {
            field: "filters",
            expected: "a list of strings",
        };
        let Some(value) = self.get("filters") else {
            return Ok(Vec::new());
        };
        let items = value.as_array().ok_or(WRONG)?;
        items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or(WRONG))
            .collect()
    }

    /// `content` (text) or `content-bin` (base64); empty when neither is given.
    fn content(&self) -> Result<Bytes, ControlError> {
        match (self.str("content")?, self.str("content-bin")?) {
            (Some(_), Some(_)) => Err(ControlError::ConflictingContent),
            (Some(text), None) => Ok(Bytes::copy_from_slice(text.as_bytes())),
            (None, Some(b64)) => STANDARD_PAD_INDIFFERENT
                .decode(b64)
                .map(Bytes::from)
                .map_err(|_| ControlError::BadBase64),
            (None, None) => Ok(Bytes::new()),
        }
    }

    fn message_type(&self) -> Result<MessageType, ControlError> {
        let Some(name) = self.str("message-type")? else {
            return Ok(MessageType::default());
        };
        MessageType::from_name(name).ok_or(ControlError::BadValue {
            field: "message-type",
            expected: "text, binary, ping or pong",
        })
    }

    fn mode(&self) -> Result<KeepAliveMode, ControlError> {
        let Some(name) = self.str("mode")? else {
            return Ok(KeepAliveMode::default());
        };
        KeepAliveMode::from_name(name).ok_or(ControlError::BadValue {
            field: "mode",
            expected: "idle or interval",
        })
    }

    /// Whole seconds; a number that is negative, fractional or beyond `u32` is refused.
    fn timeout(&self, default: u32) -> Result<u32, ControlError> {
        let Some(value) = self.get("timeout") else {
            return Ok(default);
        };
        let Value::Number(number) = value else {
            return Err(ControlError::WrongType {
                field: "timeout",
                expected: "a number",
            });
        };
        number
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(ControlError::BadValue {
                field: "timeout",
                expected: "a whole number of seconds",
            })
    }
}
