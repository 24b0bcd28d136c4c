//! Counts the heap allocations of ZHTTP decoding and encoding with an instrumented global
//! allocator: decoding the `typical_request` vector allocates once (its header list, sized
//! exactly), and encoding allocates only the output buffer, once.
//!
//! Everything runs in one test: the allocator's counters are process-wide, so tests running in
//! parallel would count each other's allocations.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::alloc::System;

use bytes::{Bytes, BytesMut};
use protocol::zhttp::{Request, Response};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn vector_wire(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/zhttp.json");
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let case = vectors["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no vector {name}"));
    case["wire"].as_str().unwrap().as_bytes().to_vec()
}

/// The allocations `f` makes, and its result.
fn allocations<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let region = Region::new(GLOBAL);
    let out = f();
    (region.change().allocations, out)
}

#[test]
fn allocation_counts() {
    let typical = vector_wire("typical_request");

    // A message that is already shared (a `Bytes` that has been cloned, or built from a
    // `BytesMut`): the views taken by the decoder only bump its reference count.
    let shared = Bytes::from(typical.clone());
    let _keep = shared.clone();
    let (n, request) = allocations(|| Request::parse(&shared).unwrap());
    assert_eq!(request.headers.len(), 12);
    assert_eq!(
        n, 1,
        "decoding a shared message allocates only the header list"
    );

    // A `Bytes` freshly made from a `Vec` is promoted to shared storage by its first view: one
    // more allocation, paid once per message, by whichever code clones it first.
    let fresh = Bytes::from(typical.clone());
    let (n, _) = allocations(|| Request::parse(&fresh).unwrap());
    assert_eq!(n, 2, "header list + the bytes crate's one-time promotion");

    // The §2.6 reply: headers again are the only allocation.
    let reply = Bytes::from(vector_wire("spec_2_6_worker_replies"));
    let _keep = reply.clone();
    let (n, _) = allocations(|| Response::parse(&reply).unwrap());
    assert_eq!(n, 1);

    // Encoding measures first, so the output buffer is allocated once, at its final size.
    let (n, encoded) = allocations(|| request.to_bytes());
    assert_eq!(encoded.len(), typical.len());
    assert_eq!(n, 1, "to_bytes allocates its buffer once");
    let mut out = BytesMut::with_capacity(request.encoded_len());
    let (n, ()) = allocations(|| request.encode(&mut out));
    assert_eq!(n, 0, "encoding into a buffer with room allocates nothing");
}
