//! Vectors for `protocol::wsevents`: being written.

pub fn trials() -> Vec<libtest_mimic::Trial> {
    Vec::new()
}
