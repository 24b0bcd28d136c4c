//! The command socket (§5.5): a ROUTER on `command_spec` answering REQ clients (or DEALERs that
//! send the empty delimiter frame) with bare tnetstrings, as Pushpin's handler does.
//!
//! Requests are `{id, method, args?}`; replies `{id, success: true, value}` or
//! `{id, success: false, condition[, value]}`. Methods:
//! - `conncheck {ids}`: which of the connection ids still exist: the ids the stats socket gave
//!   out (`gripway_<pid>:<n>`) whose connection is open, as Pushpin answers from its stats
//!   tables. Without `stats_spec` no id was given out, so none are.
//! - `get-zmq-uris`: the command, PULL and (when bound) SUB endpoints.
//! - `recover`: forgets every channel's last id and refreshes every session, as after a
//!   publisher restart (§6.4).
//! - `refresh {cid} | {channel}`: asks a WebSocket-over-HTTP connection (by its `Connection-Id`)
//!   or every one on a channel to call its backend now; an unknown cid is `item-not-found`.
//! - `publish {items}`: as the HTTP publish API, all or nothing.
//!
//! Anything else is `method-not-found`; a missing or mistyped argument is `bad-request`.

use std::sync::Arc;

use bytes::Bytes;
use protocol::tnetstring::Value;
use tokio::sync::watch;
use zeromq::{Socket, SocketRecv, SocketSend};

use crate::hub::Hub;
use crate::publish::zmq_inputs::InputError;
use crate::stats::Stats;

/// The endpoints `get-zmq-uris` reports.
#[derive(Clone, Debug, Default)]
pub struct Endpoints {
    /// `command_spec`.
    pub command: Option<String>,
    /// `push_in_spec`.
    pub publish_pull: Option<String>,
    /// The first of `push_in_sub_specs`, when the SUB socket binds.
    pub publish_sub: Option<String>,
}

/// A bound command socket.
pub struct CommandSocket {
    socket: zeromq::RouterSocket,
}

impl CommandSocket {
    /// Binds `spec`.
    pub async fn bind(spec: &str) -> Result<CommandSocket, InputError> {
        let mut socket = zeromq::RouterSocket::new();
        socket
            .bind(spec)
            .await
            .map_err(|source| InputError::new(spec, source))?;
        Ok(CommandSocket { socket })
    }

    /// Answers requests until `shutdown` turns true.
    pub async fn run(
        mut self,
        hub: Arc<Hub>,
        stats: Stats,
        endpoints: Endpoints,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            let received = tokio::select! {
                received = self.socket.recv() => received,
                _ = shutdown.changed() => return,
            };
            let Ok(message) = received else { continue };
            let mut frames = message.into_vec();
            // [peer identity, empty delimiter (REQ), request]
            let Some(request) = frames.pop() else {
                continue;
            };
            let reply = handle(&hub, &stats, &endpoints, &request).await;
            frames.push(reply);
            let Ok(reply) = zeromq::ZmqMessage::try_from(frames) else {
                continue;
            };
            if let Err(e) = self.socket.send(reply).await {
                tracing::debug!(error = %e, "command reply not sent");
            }
        }
    }
}

/// The reply to one request, encoded.
pub async fn handle(hub: &Hub, stats: &Stats, endpoints: &Endpoints, request: &Bytes) -> Bytes {
    let Ok(Value::Dict(fields)) = Value::decode(request) else {
        tracing::warn!("command request is not a tnetstring dict; ignored");
        return failure(None, "bad-request", None);
    };
    let field = |name: &str| fields.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
    let id = field("id").cloned();
    let Some(Value::Bytes(method)) = field("method") else {
        return failure(id, "bad-request", None);
    };
    let args = field("args");
    let result = match &method[..] {
        b"conncheck" => conncheck(stats, args).await,
        b"get-zmq-uris" => Ok(zmq_uris(endpoints)),
        b"recover" => {
            hub.recover();
            Ok(Value::Null)
        }
        b"refresh" => refresh(hub, args),
        b"publish" => publish(hub, args),
        _ => Err(("method-not-found", None)),
    };
    match result {
        Ok(value) => success(id, value),
        Err((condition, value)) => failure(id, condition, value),
    }
}

type Outcome = Result<Value, (&'static str, Option<Value>)>;

async fn conncheck(stats: &Stats, args: Option<&Value>) -> Outcome {
    let Some(Value::List(items)) = arg(args, "ids") else {
        return Err(("bad-request", None));
    };
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Bytes(id) => ids.push(id.clone()),
            _ => return Err(("bad-request", None)),
        }
    }
    let open = stats.open_ids(&ids).await;
    Ok(Value::List(open.into_iter().map(Value::Bytes).collect()))
}

fn zmq_uris(endpoints: &Endpoints) -> Value {
    let mut out = Vec::new();
    for (key, uri) in [
        ("command", &endpoints.command),
        ("publish-pull", &endpoints.publish_pull),
        ("publish-sub", &endpoints.publish_sub),
    ] {
        if let Some(uri) = uri {
            out.push((
                Bytes::from_static(key.as_bytes()),
                Value::from(uri.as_str()),
            ));
        }
    }
    Value::Dict(out)
}

fn refresh(hub: &Hub, args: Option<&Value>) -> Outcome {
    match (arg(args, "cid"), arg(args, "channel")) {
        (Some(Value::Bytes(cid)), _) => {
            if hub.refresh_connection(cid) {
                Ok(Value::Null)
            } else {
                Err(("item-not-found", None))
            }
        }
        (_, Some(Value::Bytes(channel))) => {
            hub.refresh_channel(&String::from_utf8_lossy(channel));
            Ok(Value::Null)
        }
        _ => Err(("bad-request", None)),
    }
}

fn publish(hub: &Hub, args: Option<&Value>) -> Outcome {
    let Some(args) = args else {
        return Err(("bad-request", None));
    };
    match protocol::publish::parse_command_items(args) {
        Ok(items) => {
            for item in items {
                hub.publish(item);
            }
            Ok(Value::Null)
        }
        Err(e) => Err(("bad-request", Some(Value::from(e.to_string())))),
    }
}

fn arg<'a>(args: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    let Some(Value::Dict(fields)) = args else {
        return None;
    };
    fields.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn success(id: Option<Value>, value: Value) -> Bytes {
    let mut fields = Vec::with_capacity(3);
    if let Some(id) = id {
        fields.push((Bytes::from_static(b"id"), id));
    }
    fields.push((Bytes::from_static(b"success"), Value::Bool(true)));
    fields.push((Bytes::from_static(b"value"), value));
    Value::Dict(fields).to_bytes()
}

fn failure(id: Option<Value>, condition: &str, value: Option<Value>) -> Bytes {
    let mut fields = Vec::with_capacity(4);
    if let Some(id) = id {
        fields.push((Bytes::from_static(b"id"), id));
    }
    fields.push((Bytes::from_static(b"success"), Value::Bool(false)));
    fields.push((Bytes::from_static(b"condition"), Value::from(condition)));
    if let Some(value) = value {
        fields.push((Bytes::from_static(b"value"), value));
    }
    Value::Dict(fields).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(request: &[u8]) -> Value {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(ask_with(&Stats::disabled(), request))
    }

    async fn ask_with(stats: &Stats, request: &[u8]) -> Value {
        let endpoints = Endpoints {
            command: Some("tcp://127.0.0.1:5563".into()),
            publish_pull: Some("tcp://127.0.0.1:5560".into()),
            publish_sub: None,
        };
        let request = Bytes::copy_from_slice(request);
        let reply = handle(&Hub::for_tests(), stats, &endpoints, &request).await;
        Value::decode(&reply).unwrap()
    }

    fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
        let Value::Dict(fields) = v else { return None };
        fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    #[test]
    fn get_zmq_uris_reports_the_bound_endpoints() {
        let reply = ask(b"35:2:id,2:c1,6:method,12:get-zmq-uris,}");
        assert_eq!(get(&reply, "id"), Some(&Value::from("c1")));
        assert_eq!(get(&reply, "success"), Some(&Value::Bool(true)));
        let value = get(&reply, "value").unwrap();
        assert_eq!(
            get(value, "command"),
            Some(&Value::from("tcp://127.0.0.1:5563"))
        );
        assert_eq!(
            get(value, "publish-pull"),
            Some(&Value::from("tcp://127.0.0.1:5560"))
        );
        assert_eq!(get(value, "publish-sub"), None);
    }

    #[test]
    fn unknown_methods_and_bad_arguments_get_their_conditions() {
        let reply = ask(b"25:2:id,1:x,6:method,4:nope,}");
        assert_eq!(get(&reply, "success"), Some(&Value::Bool(false)));
        assert_eq!(
            get(&reply, "condition"),
            Some(&Value::from("method-not-found"))
        );
        let reply = ask(b"30:2:id,1:x,6:method,9:conncheck,}");
        assert_eq!(get(&reply, "condition"), Some(&Value::from("bad-request")));
    }

    #[test]
    fn publish_reports_pushpins_invalid_format_text() {
        let request = Value::Dict(vec![
            (Bytes::from_static(b"id"), Value::from("p")),
            (Bytes::from_static(b"method"), Value::from("publish")),
            (
                Bytes::from_static(b"args"),
                Value::Dict(vec![(
                    Bytes::from_static(b"items"),
                    Value::List(vec![Value::Dict(vec![(
                        Bytes::from_static(b"channel"),
                        Value::from("c"),
                    )])]),
                )]),
            ),
        ]);
        let reply = ask(&request.to_bytes());
        assert_eq!(get(&reply, "condition"), Some(&Value::from("bad-request")));
        let Some(Value::Bytes(text)) = get(&reply, "value") else {
            panic!("no value: {reply:?}")
        };
        assert!(text.starts_with(b"Invalid format: "), "{text:?}");
    }

    #[tokio::test]
    async fn conncheck_names_the_open_connections_the_stats_gave_out() {
        use crate::stats::engine::{Engine, EngineConfig};
        use crate::stats::subscriptions::SubTimes;
        use crate::stats::NewConn;

        let (stats, mut feed) = Stats::channel(8);
        let open = stats.open(NewConn::default());
        let closed = stats.open(NewConn::default());
        drop(closed);
        let from = crate::stats::publisher::instance_id();
        // Stands in for the publisher task: takes the events, then answers the question.
        let answering = tokio::spawn(async move {
            let mut engine = Engine::new(EngineConfig {
                conn_ttl: 120,
                subs: SubTimes {
                    ttl: 60,
                    linger: std::time::Duration::ZERO,
                },
            });
            let query = feed.queries.recv().await.unwrap();
            let mut out = Vec::new();
            while let Ok(event) = feed.events.try_recv() {
                engine.apply(event, tokio::time::Instant::now(), &mut out);
            }
            let ids = query
                .ids
                .into_iter()
                .filter(|&id| engine.is_open(id))
                .collect();
            query.reply.send(ids).unwrap();
        });
        let ids = [
            format!("{from}:0"),
            format!("{from}:1"),
            "condure:1-0-a".to_owned(),
        ];
        let request = Value::Dict(vec![
            (Bytes::from_static(b"id"), Value::from("c")),
            (Bytes::from_static(b"method"), Value::from("conncheck")),
            (
                Bytes::from_static(b"args"),
                Value::Dict(vec![(
                    Bytes::from_static(b"ids"),
                    Value::List(ids.iter().map(|i| Value::from(i.as_str())).collect()),
                )]),
            ),
        ]);
        let reply = ask_with(&stats, &request.to_bytes()).await;
        answering.await.unwrap();
        assert_eq!(
            get(&reply, "value"),
            Some(&Value::List(vec![Value::from(ids[0].as_str())]))
        );
        drop(open);
    }
}
