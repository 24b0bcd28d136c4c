//! Per-session `prev-id` checks (§6.4): a channel subscribed with `prev-id=` expects each item to
//! name the id the session saw last. A gap means the session missed something, and it recovers
//! by asking the backend with `Grip-Last: <channel>; last-id=<id>`, one header per such channel.
//!
//! Checked against Pushpin 1.36 (`tests/diff`, the `recovery_*` scenarios): any item on such a
//! channel that does not name the expected id is a gap, a `close` without ids included.

use protocol::grip::Channel;
use protocol::publish::Item;

/// What to do with an item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Order {
    /// In sequence (or on a channel without `prev-id`): deliver it.
    Deliver,
    /// Out of sequence on `channel` (as published, prefix included): recover.
    Gap {
        /// The channel with the gap.
        channel: String,
    },
}

/// The last id seen on each channel subscribed with `prev-id`.
#[derive(Clone, Debug, Default)]
pub struct LastIds {
    /// (channel as published, channel as the backend named it, last id).
    channels: Vec<(String, String, String)>,
}

impl LastIds {
    /// Tracks the channels that name a `prev-id`; `prefix` is the route's.
    pub fn new(channels: &[Channel], prefix: &str) -> Self {
        LastIds {
            channels: channels
                .iter()
                .filter_map(|c| {
                    let prev = c.prev_id.clone()?;
                    Some((format!("{prefix}{}", c.name), c.name.clone(), prev))
                })
                .collect(),
        }
    }

    /// Whether no channel is tracked (the common case: nothing to check).
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// Checks `item` against the last id of its channel; when in sequence, its id becomes the
    /// last one.
    pub fn check(&mut self, item: &Item) -> Order {
        let Some(entry) = self
            .channels
            .iter_mut()
            .find(|(c, _, _)| *c == item.channel)
        else {
            return Order::Deliver;
        };
        if item.prev_id.as_deref() != Some(entry.2.as_str()) {
            return Order::Gap {
                channel: entry.0.clone(),
            };
        }
        if let Some(id) = &item.id {
            entry.2.clone_from(id);
        }
        Order::Deliver
    }

    /// The tracked channels as published (prefix included) with their last ids.
    pub fn published(&self) -> impl Iterator<Item = (&str, &str)> {
        self.channels
            .iter()
            .map(|(c, _, id)| (c.as_str(), id.as_str()))
    }

    /// The `Grip-Last` header values for a request to the backend: `<channel>; last-id=<id>`,
    /// with the channel as the backend named it.
    pub fn grip_last(&self) -> Vec<String> {
        self.channels
            .iter()
            .map(|(_, name, id)| format!("{name}; last-id={id}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(channel: &str, id: Option<&str>, prev: Option<&str>) -> Item {
        Item {
            id: id.map(String::from),
            prev_id: prev.map(String::from),
            ..Item::new(channel)
        }
    }

    fn tracked() -> LastIds {
        let channels = [
            Channel {
                prev_id: Some("p0".into()),
                ..Channel::new("a")
            },
            Channel::new("b"),
        ];
        LastIds::new(&channels, "x_")
    }

    #[test]
    fn items_in_sequence_advance_the_last_id() {
        let mut ids = tracked();
        assert_eq!(
            ids.check(&item("x_a", Some("1"), Some("p0"))),
            Order::Deliver
        );
        assert_eq!(
            ids.check(&item("x_a", Some("2"), Some("1"))),
            Order::Deliver
        );
        assert_eq!(ids.grip_last(), ["a; last-id=2"]);
    }

    #[test]
    fn a_gap_is_reported_and_the_last_id_kept() {
        let mut ids = tracked();
        let gap = Order::Gap {
            channel: "x_a".into(),
        };
        assert_eq!(ids.check(&item("x_a", Some("3"), Some("2"))), gap);
        assert_eq!(ids.check(&item("x_a", None, None)), gap);
        assert_eq!(ids.grip_last(), ["a; last-id=p0"]);
    }

    #[test]
    fn channels_without_prev_id_are_not_checked() {
        let mut ids = tracked();
        assert_eq!(
            ids.check(&item("x_b", Some("9"), Some("8"))),
            Order::Deliver
        );
        assert!(LastIds::new(&[Channel::new("z")], "").is_empty());
    }
}
