//! The channel hub: which sessions listen on which channels, and fan-out of published messages.
//!
//! - [`channels`]: the sharded channel → subscribers map, bounded per-session queues, and the
//!   subscription guards that make leaving automatic.

pub mod channels;
