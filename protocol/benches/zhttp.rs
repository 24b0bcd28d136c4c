//! ZHTTP request decode and encode throughput, on the `typical_request` case of
//! `vectors/zhttp.json`: a condure-style POST with a 1 KiB body, 12 headers, and
//! from/id/seq/method/uri/credits/stream/ext (1881 bytes on the wire).
//!
//! Run: `cargo bench -p gripway-protocol --bench zhttp`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use protocol::zhttp::Request;

fn typical_request() -> Bytes {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/zhttp.json");
    let text = std::fs::read_to_string(path).unwrap();
    let vectors: serde_json::Value = serde_json::from_str(&text).unwrap();
    let case = vectors["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "typical_request")
        .expect("vectors/zhttp.json has typical_request");
    Bytes::from(case["wire"].as_str().unwrap().to_owned())
}

fn bench(c: &mut Criterion) {
    let wire = typical_request();
    let request = Request::parse(&wire).unwrap();
    let mut group = c.benchmark_group("zhttp_request");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("decode", |b| {
        b.iter(|| Request::parse(black_box(&wire)).unwrap())
    });
    let mut out = BytesMut::with_capacity(wire.len());
    group.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            black_box(&request).encode(&mut out);
            black_box(out.len())
        })
    });
    group.bench_function("encode_to_bytes", |b| {
        b.iter(|| black_box(&request).to_bytes())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
