//! GRIP WebSocket control messages: a text message `c:` + JSON object (§7.3).
//!
//! A backend that enabled the `grip` extension sends these to Pushpin instead of a message for
//! the client; [`ControlMessage::parse`] reads one, [`ControlMessage::render`] writes one (the
//! SDKs send them). Only the `c:` prefix is handled here: deciding which messages are control
//! messages and stripping the `m:` message prefix of §7.1 is server logic.
//!
//! Parsing follows Pushpin 1.36's field names and defaults: `message-type` is `text`, a
//! keep-alive `timeout` is 55 s and its `mode` is `idle`, a `send-delayed` `timeout` is 1 s, and
//! a keep-alive without content turns keep-alives off. An unknown `type` parses as
//! [`ControlMessage::Unknown`] so the server can ignore it as Pushpin does; unknown fields are
//! ignored. A JSON `null` is read as an absent field. The input is bounded by the WebSocket
//! message size; JSON nesting is capped by `serde_json`'s recursion limit (128).
//!
//! Deliberate differences from Pushpin: a message with both `content` and `content-bin` is rejected
//! rather than resolved by a rule nobody writes on purpose; `content-bin` must be standard
//! base64 (padding optional) where Qt's decoder skips invalid characters; and a field of the
//! wrong type is an error, not converted the way Qt's `QVariant` would.

mod fields;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value};

use self::fields::Fields;
use super::ControlError;

/// The prefix that marks a text message as a control message.
pub const PREFIX: &[u8] = b"c:";

/// Pushpin's keep-alive interval when `timeout` is absent, in seconds (hard-coded in 1.36).
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: u32 = 55;

/// Pushpin's `send-delayed` delay when `timeout` is absent, in seconds.
pub const DEFAULT_SEND_DELAYED_TIMEOUT: u32 = 1;

/// One control message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlMessage {
    /// `subscribe`: subscribe the connection to `channel`.
    Subscribe {
        /// The channel; never empty.
        channel: String,
        /// Filter names (§6.7), in order; empty when absent.
        filters: Vec<String>,
    },
    /// `unsubscribe`: leave `channel`.
    Unsubscribe {
        /// The channel.
        channel: String,
    },
    /// `detach`: close the backend side and keep the client connected.
    Detach,
    /// `session`: the session id for the state service.
    Session {
        /// The session id.
        id: String,
    },
    /// `set-meta`: set or delete a subscription meta value used by filters.
    SetMeta {
        /// The meta name; never empty.
        name: String,
        /// The value; `None` deletes it.
        value: Option<String>,
    },
    /// `keep-alive`: send a message to the client when idle or on an interval.
    KeepAlive(KeepAlive),
    /// `send-delayed`: send a message to the client after a delay.
    SendDelayed(SendDelayed),
    /// `flush-delayed`: send the pending delayed message now.
    FlushDelayed,
    /// A `type` this crate does not know; Pushpin ignores such messages.
    Unknown {
        /// The `type` as given.
        type_name: String,
    },
}

/// The fields of a `keep-alive` control message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeepAlive {
    /// The message to send; empty turns keep-alives off.
    pub content: Bytes,
    /// The frame type the content is sent as.
    pub message_type: MessageType,
    /// The interval in seconds.
    pub timeout: u32,
    /// Whether the interval restarts on other traffic.
    pub mode: KeepAliveMode,
}

/// The fields of a `send-delayed` control message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendDelayed {
    /// The message to send.
    pub content: Bytes,
    /// The frame type the content is sent as.
    pub message_type: MessageType,
    /// The delay in seconds.
    pub timeout: u32,
}

/// The frame type of a keep-alive or delayed message (`message-type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// `text` (the default).
    #[default]
    Text,
    /// `binary`.
    Binary,
    /// `ping`.
    Ping,
    /// `pong`.
    Pong,
}

/// When a keep-alive is sent (`mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeepAliveMode {
    /// `idle` (the default): after `timeout` seconds without traffic to the client.
    #[default]
    Idle,
    /// `interval`: every `timeout` seconds regardless of traffic.
    Interval,
}

/// True when a text message is a control message, i.e. starts with `c:`.
pub fn is_control(message: &[u8]) -> bool {
    message.starts_with(PREFIX)
}

// === impl KeepAlive, SendDelayed ===

impl Default for KeepAlive {
    /// A keep-alive with Pushpin's defaults and no content, which turns keep-alives off.
    fn default() -> Self {
        KeepAlive {
            content: Bytes::new(),
            message_type: MessageType::Text,
            timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            mode: KeepAliveMode::Idle,
        }
    }
}

impl KeepAlive {
    /// True when this message turns keep-alives off (it has no content).
    pub fn is_off(&self) -> bool {
        self.content.is_empty()
    }
}

impl Default for SendDelayed {
    /// An empty delayed message with Pushpin's defaults.
    fn default() -> Self {
        SendDelayed {
            content: Bytes::new(),
            message_type: MessageType::Text,
            timeout: DEFAULT_SEND_DELAYED_TIMEOUT,
        }
    }
}

impl MessageType {
    /// The JSON spelling: `text`, `binary`, `ping` or `pong`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Text => "text",
            MessageType::Binary => "binary",
            MessageType::Ping => "ping",
            MessageType::Pong => "pong",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "text" => MessageType::Text,
            "binary" => MessageType::Binary,
            "ping" => MessageType::Ping,
            "pong" => MessageType::Pong,
            _ => return None,
        })
    }
}

impl KeepAliveMode {
    /// The JSON spelling: `idle` or `interval`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeepAliveMode::Idle => "idle",
            KeepAliveMode::Interval => "interval",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "idle" => KeepAliveMode::Idle,
            "interval" => KeepAliveMode::Interval,
            _ => return None,
        })
    }
}

// === impl ControlMessage ===

impl ControlMessage {
    /// Parses a text message of the form `c:` + JSON object.
    pub fn parse(message: &[u8]) -> Result<ControlMessage, ControlError> {
        let json = message
            .strip_prefix(PREFIX)
            .ok_or(ControlError::NotControl)?;
        let value: Value = serde_json::from_slice(json).map_err(|_| ControlError::BadJson)?;
        let Value::Object(object) = value else {
            return Err(ControlError::NotObject);
        };
        Fields(&object).message()
    }

    /// The `type` this message is sent with.
    pub fn type_name(&self) -> &str {
        match self {
            ControlMessage::Subscribe { .. } => "subscribe",
            ControlMessage::Unsubscribe { .. } => "unsubscribe",
            ControlMessage::Detach => "detach",
            ControlMessage::Session { .. } => "session",
            ControlMessage::SetMeta { .. } => "set-meta",
            ControlMessage::KeepAlive(_) => "keep-alive",
            ControlMessage::SendDelayed(_) => "send-delayed",
            ControlMessage::FlushDelayed => "flush-delayed",
            ControlMessage::Unknown { type_name } => type_name,
        }
    }

    /// The message as it is sent: `c:` + a JSON object, `type` first. Fields equal to Pushpin's
    /// defaults are left out, so a plain subscribe reads `c:{"type":"subscribe","channel":"…"}`.
    pub fn render(&self) -> String {
        let mut object = Map::new();
        object.insert("type".into(), self.type_name().into());
        match self {
            ControlMessage::Subscribe { channel, filters } => {
                object.insert("channel".into(), channel.as_str().into());
                if !filters.is_empty() {
                    object.insert("filters".into(), filters.clone().into());
                }
            }
            ControlMessage::Unsubscribe { channel } => {
                object.insert("channel".into(), channel.as_str().into());
            }
            ControlMessage::Session { id } => {
                object.insert("id".into(), id.as_str().into());
            }
            ControlMessage::SetMeta { name, value } => {
                object.insert("name".into(), name.as_str().into());
                if let Some(value) = value {
                    object.insert("value".into(), value.as_str().into());
                }
            }
            ControlMessage::KeepAlive(keep_alive) => render_keep_alive(keep_alive, &mut object),
            ControlMessage::SendDelayed(delayed) => {
                render_content(&delayed.content, delayed.message_type, &mut object);
                if delayed.timeout != DEFAULT_SEND_DELAYED_TIMEOUT {
                    object.insert("timeout".into(), delayed.timeout.into());
                }
            }
            ControlMessage::Detach
            | ControlMessage::FlushDelayed
            | ControlMessage::Unknown { .. } => {}
        }
        format!("c:{}", Value::Object(object))
    }
}

fn render_keep_alive(keep_alive: &KeepAlive, object: &mut Map<String, Value>) {
    render_content(&keep_alive.content, keep_alive.message_type, object);
    if keep_alive.timeout != DEFAULT_KEEP_ALIVE_TIMEOUT {
        object.insert("timeout".into(), keep_alive.timeout.into());
    }
    if keep_alive.mode != KeepAliveMode::Idle {
        object.insert("mode".into(), keep_alive.mode.as_str().into());
    }
}

/// `content` when the bytes are UTF-8, else `content-bin` in base64; then `message-type`.
fn render_content(content: &Bytes, message_type: MessageType, object: &mut Map<String, Value>) {
    if !content.is_empty() {
        match std::str::from_utf8(content) {
            Ok(text) => object.insert("content".into(), text.into()),
            Err(_) => object.insert("content-bin".into(), STANDARD.encode(content).into()),
        };
    }
    if message_type != MessageType::Text {
        object.insert("message-type".into(), message_type.as_str().into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ControlMessage, ControlError> {
        ControlMessage::parse(text.as_bytes())
    }

    fn keep_alive(content: &str) -> KeepAlive {
        KeepAlive {
            content: Bytes::copy_from_slice(content.as_bytes()),
            ..KeepAlive::default()
        }
    }

    #[test]
    fn parses_each_type() {
        let cases: Vec<(&str, ControlMessage)> = vec![
            (
                r#"c:{"type":"subscribe","channel":"room1"}"#,
                ControlMessage::Subscribe {
                    channel: "room1".into(),
                    filters: vec![],
                },
            ),
            (
                r#"c:{"type":"subscribe","channel":"a","filters":["skip-self"]}"#,
                ControlMessage::Subscribe {
                    channel: "a".into(),
                    filters: vec!["skip-self".into()],
                },
            ),
            (
                r#"c:{"type":"unsubscribe","channel":"a"}"#,
                ControlMessage::Unsubscribe {
                    channel: "a".into(),
                },
            ),
            (r#"c:{"type":"detach"}"#, ControlMessage::Detach),
            (
                r#"c:{"type":"session","id":"s1"}"#,
                ControlMessage::Session { id: "s1".into() },
            ),
            (
                r#"c:{"type":"set-meta","name":"user","value":"alice"}"#,
                ControlMessage::SetMeta {
                    name: "user".into(),
                    value: Some("alice".into()),
                },
            ),
            (
                r#"c:{"type":"set-meta","name":"user","value":null}"#,
                ControlMessage::SetMeta {
                    name: "user".into(),
                    value: None,
                },
            ),
            (
                r#"c:{"type":"keep-alive","content":"{}"}"#,
                ControlMessage::KeepAlive(keep_alive("{}")),
            ),
            (
                r#"c:{"type":"keep-alive"}"#,
                ControlMessage::KeepAlive(KeepAlive::default()),
            ),
            (
                r#"c:{"type":"keep-alive","content-bin":"AAE","message-type":"binary","timeout":20,"mode":"interval"}"#,
                ControlMessage::KeepAlive(KeepAlive {
                    content: Bytes::from_static(b"\x00\x01"),
                    message_type: MessageType::Binary,
                    timeout: 20,
                    mode: KeepAliveMode::Interval,
                }),
            ),
            (
                r#"c:{"type":"send-delayed","content":"bye","message-type":"pong"}"#,
                ControlMessage::SendDelayed(SendDelayed {
                    content: Bytes::from_static(b"bye"),
                    message_type: MessageType::Pong,
                    timeout: 1,
                }),
            ),
            (
                r#"c:{"type":"flush-delayed"}"#,
                ControlMessage::FlushDelayed,
            ),
            (
                r#"c:{"type":"ack","id":5}"#,
                ControlMessage::Unknown {
                    type_name: "ack".into(),
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_bad_messages() {
        let cases: &[(&str, &str)] = &[
            (r#"m:{"type":"detach"}"#, "not_control"),
            ("c:{", "bad_json"),
            ("c:[]", "not_object"),
            (r#"c:{"channel":"a"}"#, "missing_field"),
            (r#"c:{"type":5}"#, "wrong_type"),
            (r#"c:{"type":"subscribe"}"#, "missing_field"),
            (r#"c:{"type":"subscribe","channel":""}"#, "empty_field"),
            (
                r#"c:{"type":"subscribe","channel":"a","filters":"x"}"#,
                "wrong_type",
            ),
            (
                r#"c:{"type":"subscribe","channel":"a","filters":[1]}"#,
                "wrong_type",
            ),
            (
                r#"c:{"type":"set-meta","name":"","value":"x"}"#,
                "empty_field",
            ),
            (
                r#"c:{"type":"set-meta","name":"n","value":1}"#,
                "wrong_type",
            ),
            (
                r#"c:{"type":"keep-alive","content":"a","content-bin":"YQ=="}"#,
                "conflicting_content",
            ),
            (r#"c:{"type":"keep-alive","content-bin":"!"}"#, "bad_base64"),
            (
                r#"c:{"type":"keep-alive","content":"a","message-type":"TEXT"}"#,
                "bad_value",
            ),
            (
                r#"c:{"type":"keep-alive","content":"a","mode":"busy"}"#,
                "bad_value",
            ),
            (
                r#"c:{"type":"keep-alive","content":"a","timeout":"5"}"#,
                "wrong_type",
            ),
            (
                r#"c:{"type":"keep-alive","content":"a","timeout":-1}"#,
                "bad_value",
            ),
            (
                r#"c:{"type":"keep-alive","content":"a","timeout":1.5}"#,
                "bad_value",
            ),
            (
                r#"c:{"type":"send-delayed","content":"a","timeout":4294967296}"#,
                "bad_value",
            ),
        ];
        for (text, kind) in cases {
            let got = parse(text).map_err(|e| e.kind());
            assert_eq!(got, Err(*kind), "{text}");
        }
    }

    #[test]
    fn renders_the_spec_example_exactly() {
        let message = ControlMessage::Subscribe {
            channel: "room1".into(),
            filters: vec![],
        };
        let text = message.render();
        assert_eq!(text, r#"c:{"type":"subscribe","channel":"room1"}"#);
        assert_eq!(text.len(), 0x28);
    }

    #[test]
    fn renders_non_default_fields_and_binary_content() {
        let message = ControlMessage::KeepAlive(KeepAlive {
            content: Bytes::from_static(b"\xff"),
            message_type: MessageType::Ping,
            timeout: 30,
            mode: KeepAliveMode::Interval,
        });
        assert_eq!(
            message.render(),
            r#"c:{"type":"keep-alive","content-bin":"/w==","message-type":"ping","timeout":30,"mode":"interval"}"#
        );
        let off = ControlMessage::KeepAlive(KeepAlive::default());
        assert_eq!(off.render(), r#"c:{"type":"keep-alive"}"#);
    }

    #[test]
    fn is_control_checks_the_prefix() {
        assert!(is_control(b"c:{}"));
        assert!(!is_control(b"m:hello"));
        assert!(!is_control(b"c"));
    }
}
