//! GRIP instructions (§4). Being written.
