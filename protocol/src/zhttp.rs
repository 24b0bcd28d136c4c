//! ZHTTP packets (§2). Being written.
