//! Any bytes as a header value: parsing must not panic, and a list that renders must parse back
//! to the same items.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use protocol::grip::params::{self, Limits, Param};

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    let limits = Limits::default();
    let _ = params::parse_item(&input, &limits);
    let _ = params::split_list(&input, &limits);
    let _ = Param::parse(&input);
    if let Ok(items) = params::parse_list(&input, &limits) {
        if let Ok(rendered) = params::render_list(&items) {
            assert_eq!(params::parse_list(&rendered, &limits), Ok(items));
        }
    }
});
