//! Grip-Sig (§3.2-3.3). Being written.
