//! Runs every case of the shared vectors in `protocol/vectors/` as its own named test.
//!
//! The Python and Node SDK tests read the same files; this is the Rust side.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// Test modules are private to this binary; `pub` only marks what other modules may call.
#![allow(unreachable_pub)]

#[allow(dead_code)] // helpers shared by codecs; not every codec uses each one
mod support;

mod grip;
mod publish;
mod sig;
mod tnetstring;
mod wsevents;
mod zhttp;

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let trials = [
        tnetstring::trials(),
        zhttp::trials(),
        grip::trials(),
        publish::trials(),
        wsevents::trials(),
        sig::trials(),
    ]
    .into_iter()
    .flatten()
    .collect();
    libtest_mimic::run(&args, trials).exit();
}
