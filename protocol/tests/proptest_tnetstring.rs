//! Property tests for `protocol::tnetstring`: round trips, truncation, and arbitrary input.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use bytes::Bytes;
use proptest::prelude::*;
use protocol::tnetstring::{parse_frame, Error, Limits, Value};

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 128, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
            proptest::collection::vec(
                (
                    proptest::collection::vec(any::<u8>(), 0..12).prop_map(Bytes::from),
                    inner
                ),
                0..8
            )
            .prop_map(Value::Dict),
        ]
    })
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(v in value()) {
        let encoded = v.to_bytes();
        prop_assert_eq!(Value::decode(&encoded), Ok(v));
    }

    #[test]
    fn frame_spans_exactly_the_encoding(v in value(), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
        let mut wire = v.to_bytes().to_vec();
        let len = wire.len();
        wire.extend_from_slice(&tail);
        let (frame, used) = parse_frame(&wire).unwrap();
        prop_assert_eq!(used, len);
        prop_assert_eq!(frame.ty(), v.ty());
    }

    #[test]
    fn every_strict_prefix_is_incomplete(v in value()) {
        let encoded = v.to_bytes();
        for cut in 0..encoded.len() {
            prop_assert_eq!(Value::decode(&encoded.slice(..cut)), Err(Error::Incomplete));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        let input = Bytes::from(data);
        if let Ok(v) = Value::decode(&input) {
            prop_assert_eq!(Value::decode(&v.to_bytes()), Ok(v));
        }
    }

    #[test]
    fn depth_limit_is_exact(depth in 1usize..40) {
        let mut v = Value::List(vec![]);
        for _ in 1..depth {
            v = Value::List(vec![v]);
        }
        let encoded = v.to_bytes();
        let at = Limits { max_depth: depth, ..Limits::default() };
        let below = Limits { max_depth: depth - 1, ..Limits::default() };
        prop_assert!(Value::decode_with(&encoded, &at).is_ok());
        prop_assert_eq!(Value::decode_with(&encoded, &below), Err(Error::TooDeep));
    }
}
