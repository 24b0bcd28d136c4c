//! WebSocket-over-HTTP events (§7.2-7.3). Being written.
