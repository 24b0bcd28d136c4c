//! Publish items (§5). Being written.
