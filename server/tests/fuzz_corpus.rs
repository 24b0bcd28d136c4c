//! Replays every committed fuzz corpus (`server/fuzz/corpus/<target>/`) through the same
//! check its fuzz target runs, on stable Rust: an input that once found a bug stays a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::Path;

/// A fuzz target's check: panics on a bug.
type Check = fn(&[u8]);

/// Every target and its check; a corpus folder without an entry here fails the test.
const TARGETS: &[(&str, Check)] = &[
    ("request_head", checks::request_head),
    ("request_body", checks::request_body),
    ("response", checks::response),
    ("settings", checks::settings),
    ("routes", checks::routes),
    ("jsonp", checks::jsonp),
    ("filters", checks::filters),
];

#[test]
fn every_corpus_input_passes_its_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut replayed = std::collections::HashMap::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let check = TARGETS
            .iter()
            .find(|(t, _)| *t == name)
            .unwrap_or_else(|| panic!("corpus {name} has no check in TARGETS"))
            .1;
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{} fails its check", file.display());
            *replayed.entry(name.clone()).or_insert(0usize) += 1;
        }
    }
    for (target, _) in TARGETS {
        assert!(
            replayed.get(*target).is_some_and(|n| *n > 0),
            "target {target} has no corpus"
        );
    }
}
