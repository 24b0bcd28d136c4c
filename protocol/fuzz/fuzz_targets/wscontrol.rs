//! Any bytes as a WebSocket text message: parsing a control message must not panic, and what
//! parses must render to text that parses to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::wsevents::ControlMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = ControlMessage::parse(data) {
        let text = message.render();
        assert_eq!(ControlMessage::parse(text.as_bytes()), Ok(message));
    }
});
