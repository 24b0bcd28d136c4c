//! Vectors for `protocol::zhttp`: being written.

pub fn trials() -> Vec<libtest_mimic::Trial> {
    Vec::new()
}
