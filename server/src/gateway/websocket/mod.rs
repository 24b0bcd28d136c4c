//! WebSocket clients (§7): the handshake on a route, then a session on the upgraded socket.
//!
//! - [`over_http`]: `over_http` routes, the connection as HTTP `POST`s of events to a
//!   stateless backend (HTTP, `zhttpreq/` or `zhttp/`).
//! - [`native`]: other routes, frames relayed to a WebSocket backend.
//! - [`client_side`]: what both share: the client's socket, its channels, control messages,
//!   published `ws-message` items, keep-alive and delayed messages.
//!
//! The handshake is answered only after the backend accepted the connection, so a refusal
//! reaches the client as the backend's own response. A session runs in the client's
//! connection task (no task of its own) and ends with the connection; its subscriptions go
//! with it.

mod client_side;
mod native;
mod over_http;

use std::sync::Arc;

use protocol::grip;

use super::{Gateway, GatewayError, Served};
use crate::config::routes::Route;
use crate::frontend::conn::{Reply, ReplyBody, Request};
use crate::frontend::response::ResponseHead;
use crate::websocket::handshake::Handshake;
use crate::websocket::subscriptions::WsSubscriptions;

impl Gateway {
    /// A WebSocket handshake on `route`: opens the connection with the backend, then answers.
    pub(super) async fn websocket(
        self: &Arc<Self>,
        req: Request,
        route: &Arc<Route>,
        path: &str,
    ) -> Result<Served, GatewayError> {
        let handshake = match Handshake::check(&req.head.method, &req.head.headers) {
            Ok(handshake) => handshake,
            Err(e) => return Ok(Served::once(Reply::text(400, format!("{e}\n")))),
        };
        let over_http = route
            .targets
            .first()
            .ok_or(GatewayError::Unsupported("route has no target"))?
            .over_http;
        let reply = if over_http {
            self.open_over_http(req, route, path, handshake).await?
        } else {
            self.open_native(req, route, path, handshake).await?
        };
        Ok(Served::once(reply))
    }
}

/// A refused opening: the backend's status, fields and body go to the client.
fn refusal(response: grip::Response) -> Reply {
    Reply {
        head: ResponseHead {
            code: response.code,
            reason: response.reason,
            headers: response.headers,
        },
        body: ReplyBody::Full(response.body),
        close: false,
    }
}

impl Gateway {
    /// A new connection's channels: none yet but the route's `sub=` ones.
    fn ws_subscriptions(&self, route: &Route) -> WsSubscriptions {
        let implicit = route.targets.first().map(|t| t.subs.as_slice());
        WsSubscriptions::new(
            self.hub.clone(),
            &route.prefix,
            self.subscription_max,
            self.limiter(route),
            implicit.unwrap_or_default(),
        )
    }
}
