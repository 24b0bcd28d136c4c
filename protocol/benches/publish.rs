//! Decoding and encoding a typical publish item: a channel, `id`, `prev-id` and all three formats
//! with ~200-byte contents, from the HTTP endpoint's JSON and from a ZMQ tnetstring.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use protocol::publish::{self, HttpResponse, HttpStream, Item, WsMessage};

fn typical_item() -> Item {
    let line = "data: {\"user\":\"u17\",\"text\":\"the quick brown fox jumps over the lazy dog\",\"seq\":42}\n";
    let content = line.repeat(3);
    let mut item = Item::new("room-17");
    item.id = Some("7b3c2a90-1f".into());
    item.prev_id = Some("7b3c2a90-1e".into());
    let mut response = HttpResponse::new(content.clone());
    response.headers.push("Content-Type", "text/event-stream");
    item.http_response = Some(response);
    item.http_stream = Some(HttpStream::new(format!("{content}\n")));
    item.ws_message = Some(WsMessage::text(content));
    item
}

fn bench(c: &mut Criterion) {
    let item = typical_item();
    let mut body = BytesMut::new();
    publish::encode_http_body(std::slice::from_ref(&item), &mut body);
    let body = body.freeze();
    let tnet = item.to_tnetstring();
    assert_eq!(
        publish::parse_http_body(&body).unwrap(),
        std::slice::from_ref(&item)
    );
    assert_eq!(publish::parse_zmq_message(&tnet).unwrap(), item);

    let mut group = c.benchmark_group("publish");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("parse_http_body", |b| {
        b.iter(|| publish::parse_http_body(black_box(&body)))
    });
    group.bench_function("encode_json", |b| b.iter(|| black_box(&item).to_json()));
    group.throughput(Throughput::Bytes(tnet.len() as u64));
    group.bench_function("parse_zmq_tnetstring", |b| {
        b.iter(|| publish::parse_zmq_message(black_box(&tnet)))
    });
    group.bench_function("encode_tnetstring", |b| {
        b.iter(|| black_box(&item).to_tnetstring())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
