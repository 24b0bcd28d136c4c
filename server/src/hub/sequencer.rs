//! The channel sequencer (§6.4): publishers chain items with `id` and `prev-id`; this puts them
//! back in order and drops repeats, for channels that have local subscribers.
//!
//! Per channel it keeps the id of the last item delivered. An item whose `prev-id` names another
//! id waits (at most [`MAX_HELD`] per channel, one per `prev-id`) until its predecessor arrives,
//! then goes out with the rest of its chain; if the predecessor never comes, it goes out anyway
//! after `message_wait`. An item seen before within `id_cache_ttl` is dropped, `no-seq` ones
//! included. A `no-seq` item skips the ordering and leaves the last id alone; an item without an
//! id forgets it. All of this was checked against Pushpin 1.36 (`tests/diff`, the `seq_*`
//! scenarios).
//!
//! State exists only while a channel has subscribers ([`Sequencer::track`] and
//! [`Sequencer::forget`] follow the hub's channel events), so it is bounded by what clients hold
//! open. The lock of a channel's state is never held while delivering.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

// Tokio's clock, so tests can run message_wait on paused time.
use tokio::time::Instant;

use super::Message;

/// Items one channel may hold back waiting for a predecessor (Pushpin's bound).
pub const MAX_HELD: usize = 100;

/// Ids remembered per channel for de-duplication: past this the oldest are forgotten early,
/// so a publisher with a long `id_cache_ttl` and a high rate cannot grow memory without bound.
pub const MAX_IDS: usize = 10_000;

const SHARDS: usize = 16;

/// How long items wait and ids are remembered.
#[derive(Clone, Copy, Debug)]
pub struct SequencerSettings {
    /// `message_wait`: how long an item waits for its predecessor.
    pub message_wait: Duration,
    /// `id_cache_ttl`: how long an id is remembered; zero turns de-duplication off.
    pub id_cache_ttl: Duration,
}

/// The per-channel sequencing state of the channels with subscribers.
pub struct Sequencer {
    settings: SequencerSettings,
    shards: Box<[Mutex<Shard>]>,
    hasher: std::collections::hash_map::RandomState,
}

type Shard = HashMap<Arc<str>, ChannelState>;

#[derive(Default)]
struct ChannelState {
    last_id: Option<Arc<str>>,
    held: Vec<Held>,
    ids: IdCache,
}

struct Held {
    prev_id: Arc<str>,
    message: Message,
    since: Instant,
}

/// Recently seen ids, oldest first, with expiry.
#[derive(Default)]
struct IdCache {
    order: VecDeque<(Instant, Arc<str>)>,
    set: HashMap<Arc<str>, Instant>,
}

impl IdCache {
    /// Whether `id` was seen within `ttl`; records it if not.
    fn seen_or_record(&mut self, id: &str, now: Instant, ttl: Duration) -> bool {
        self.expire(now, ttl);
        if self.set.contains_key(id) {
            return true;
        }
        if self.order.len() >= MAX_IDS {
            if let Some((_, old)) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        let id: Arc<str> = Arc::from(id);
        self.set.insert(id.clone(), now);
        self.order.push_back((now, id));
        false
    }

    fn expire(&mut self, now: Instant, ttl: Duration) {
        while let Some((at, _)) = self.order.front() {
            if now.duration_since(*at) < ttl {
                break;
            }
            if let Some((_, id)) = self.order.pop_front() {
                self.set.remove(&id);
            }
        }
    }
}

impl Sequencer {
    /// A sequencer with no channels.
    pub fn new(settings: SequencerSettings) -> Self {
        Sequencer {
            settings,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
        }
    }

    fn shard(&self, channel: &str) -> MutexGuard<'_, Shard> {
        let hash = self.hasher.hash_one(channel) as usize;
        #[allow(clippy::indexing_slicing)] // the index is reduced modulo the slice's length
        let shard = &self.shards[hash % self.shards.len()];
        // Every mutation leaves the map consistent, so a poisoned lock is still usable.
        shard.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts sequencing `channel` (it got its first subscriber).
    pub fn track(&self, channel: &Arc<str>) {
        self.shard(channel).entry(channel.clone()).or_default();
    }

    /// Stops sequencing `channel` (it lost its last subscriber): its last id, held items and
    /// remembered ids go.
    pub fn forget(&self, channel: &str) {
        self.shard(channel).remove(channel);
    }

    /// Forgets `channel`'s last id, so the next item is delivered whatever its `prev-id`
    /// (recovery after a gap, and the `recover` command).
    pub fn clear_last_id(&self, channel: &str) {
        if let Some(state) = self.shard(channel).get_mut(channel) {
            state.last_id = None;
        }
    }

    /// Forgets every channel's last id (the `recover` command).
    pub fn clear_all_last_ids(&self) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            for state in shard.values_mut() {
                state.last_id = None;
            }
        }
    }

    /// The id of the last item delivered on `channel`, if known.
    pub fn last_id(&self, channel: &str) -> Option<String> {
        let shard = self.shard(channel);
        shard.get(channel)?.last_id.as_deref().map(String::from)
    }

    /// Takes a published item; returns the items to deliver now, in order (none, it, or it
    /// followed by the held items it unblocks).
    pub fn sequence(&self, message: Message, now: Instant) -> Vec<Message> {
        let mut shard = self.shard(&message.channel);
        let Some(state) = shard.get_mut(message.channel.as_str()) else {
            // Nobody listens here: nothing to order, and nothing will receive it.
            return vec![message];
        };
        if let Some(id) = &message.id {
            let ttl = self.settings.id_cache_ttl;
            if !ttl.is_zero() && state.ids.seen_or_record(id, now, ttl) {
                tracing::debug!(channel = %message.channel, id = %id, "duplicate id dropped");
                return Vec::new();
            }
        }
        if message.no_seq {
            return vec![message];
        }
        let waits_for = match (&message.prev_id, &state.last_id) {
            (Some(prev), Some(last)) if prev.as_str() != last.as_ref() => {
                Some(Arc::from(prev.as_str()))
            }
            _ => None,
        };
        if let Some(prev) = waits_for {
            hold(state, prev, message, now);
            return Vec::new();
        }
        let mut out = Vec::with_capacity(1);
        release(state, message, &mut out);
        out
    }

    /// Releases items that have waited `message_wait` or longer, oldest first, each followed by
    /// what it unblocks. Called about once a second.
    pub fn expire(&self, now: Instant) -> Vec<Message> {
        let wait = self.settings.message_wait;
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            for state in shard.values_mut() {
                while let Some(i) = state
                    .held
                    .iter()
                    .position(|h| now.duration_since(h.since) >= wait)
                {
                    let held = state.held.remove(i);
                    release(state, held.message, &mut out);
                }
            }
        }
        out
    }
}

/// Holds `message` until the item with id `prev` is delivered.
fn hold(state: &mut ChannelState, prev: Arc<str>, message: Message, now: Instant) {
    if state.held.iter().any(|h| h.prev_id == prev) {
        tracing::debug!(channel = %message.channel, prev_id = %prev, "second item for the same prev-id dropped");
        return;
    }
    if state.held.len() >= MAX_HELD {
        tracing::warn!(channel = %message.channel, "too many out-of-order items held; item dropped");
        return;
    }
    state.held.push(Held {
        prev_id: prev,
        message,
        since: now,
    });
}

/// Delivers `message`, then every held item that now follows, in chain order.
fn release(state: &mut ChannelState, message: Message, out: &mut Vec<Message>) {
    let mut next = Some(message);
    while let Some(message) = next.take() {
        state.last_id = message.id.as_deref().map(Arc::from);
        if let Some(id) = &message.id {
            if let Some(i) = state.held.iter().position(|h| h.prev_id.as_ref() == id) {
                next = Some(state.held.remove(i).message);
            }
        }
        out.push(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::publish::Item;

    fn settings(ttl_secs: u64) -> SequencerSettings {
        SequencerSettings {
            message_wait: Duration::from_secs(5),
            id_cache_ttl: Duration::from_secs(ttl_secs),
        }
    }

    fn item(id: Option<&str>, prev: Option<&str>) -> Message {
        Arc::new(Item {
            id: id.map(String::from),
            prev_id: prev.map(String::from),
            ..Item::new("c")
        })
    }

    fn ids(messages: &[Message]) -> Vec<&str> {
        messages
            .iter()
            .map(|m| m.id.as_deref().unwrap_or("-"))
            .collect()
    }

    fn tracked(ttl: u64) -> Sequencer {
        let s = Sequencer::new(settings(ttl));
        s.track(&Arc::from("c"));
        s
    }

    #[test]
    fn out_of_order_items_are_put_back_in_order() {
        let s = tracked(60);
        let now = Instant::now();
        assert_eq!(ids(&s.sequence(item(Some("a"), None), now)), ["a"]);
        assert!(s.sequence(item(Some("c"), Some("b")), now).is_empty());
        assert!(s.sequence(item(Some("d"), Some("c")), now).is_empty());
        assert_eq!(
            ids(&s.sequence(item(Some("b"), Some("a")), now)),
            ["b", "c", "d"]
        );
    }

    #[test]
    fn repeated_ids_are_dropped_within_the_ttl_only() {
        let s = tracked(60);
        let now = Instant::now();
        assert_eq!(s.sequence(item(Some("a"), None), now).len(), 1);
        assert!(s.sequence(item(Some("a"), None), now).is_empty());
        let later = now + Duration::from_secs(61);
        assert_eq!(s.sequence(item(Some("a"), None), later).len(), 1);
        // A TTL of zero turns de-duplication off.
        let off = tracked(0);
        assert_eq!(off.sequence(item(Some("a"), None), now).len(), 1);
        assert_eq!(off.sequence(item(Some("a"), None), now).len(), 1);
    }

    #[test]
    fn a_second_item_for_the_same_prev_id_is_dropped() {
        let s = tracked(60);
        let now = Instant::now();
        s.sequence(item(Some("a"), None), now);
        s.sequence(item(Some("c1"), Some("b")), now);
        s.sequence(item(Some("c2"), Some("b")), now);
        assert_eq!(
            ids(&s.sequence(item(Some("b"), Some("a")), now)),
            ["b", "c1"]
        );
    }

    #[test]
    fn an_item_without_id_forgets_the_last_id() {
        let s = tracked(60);
        let now = Instant::now();
        s.sequence(item(Some("a"), None), now);
        assert_eq!(s.sequence(item(None, None), now).len(), 1);
        assert_eq!(ids(&s.sequence(item(Some("y"), Some("q")), now)), ["y"]);
        assert!(s.sequence(item(Some("z"), Some("a")), now).is_empty());
    }

    #[test]
    fn no_seq_skips_ordering_but_not_de_duplication() {
        let s = tracked(60);
        let now = Instant::now();
        s.sequence(item(Some("a"), None), now);
        let mut c = Item::new("c");
        c.id = Some("c".into());
        c.prev_id = Some("b".into());
        c.no_seq = true;
        assert_eq!(s.sequence(Arc::new(c), now).len(), 1);
        let mut dup = Item::new("c");
        dup.id = Some("a".into());
        dup.no_seq = true;
        assert!(s.sequence(Arc::new(dup), now).is_empty());
        // The last id is still `a`.
        assert!(s.sequence(item(Some("d"), Some("c")), now).is_empty());
        assert_eq!(ids(&s.sequence(item(Some("e"), Some("a")), now)), ["e"]);
    }

    #[test]
    fn held_items_go_out_after_message_wait_and_carry_the_chain_on() {
        let s = tracked(60);
        let now = Instant::now();
        s.sequence(item(Some("a"), None), now);
        s.sequence(item(Some("e"), Some("d")), now);
        assert!(s.expire(now + Duration::from_secs(4)).is_empty());
        assert_eq!(ids(&s.expire(now + Duration::from_secs(5))), ["e"]);
        let later = now + Duration::from_secs(6);
        assert_eq!(ids(&s.sequence(item(Some("f"), Some("e")), later)), ["f"]);
    }

    #[test]
    fn untracked_channels_pass_items_through_and_forget_clears_state() {
        let s = Sequencer::new(settings(60));
        let now = Instant::now();
        assert_eq!(s.sequence(item(Some("a"), None), now).len(), 1);
        assert_eq!(s.sequence(item(Some("a"), None), now).len(), 1);
        s.track(&Arc::from("c"));
        s.sequence(item(Some("a"), None), now);
        s.forget("c");
        s.track(&Arc::from("c"));
        assert_eq!(ids(&s.sequence(item(Some("x"), Some("w")), now)), ["x"]);
    }

    #[test]
    fn at_most_max_held_items_wait() {
        let s = tracked(0);
        let now = Instant::now();
        s.sequence(item(Some("a"), None), now);
        for i in 0..MAX_HELD + 5 {
            let id = format!("n{i}");
            let prev = format!("p{i}");
            s.sequence(item(Some(&id), Some(&prev)), now);
        }
        assert_eq!(s.expire(now + Duration::from_secs(5)).len(), MAX_HELD);
    }

    #[test]
    fn the_id_cache_is_bounded() {
        let mut cache = IdCache::default();
        let now = Instant::now();
        let ttl = Duration::from_secs(3600);
        for i in 0..MAX_IDS + 10 {
            assert!(!cache.seen_or_record(&i.to_string(), now, ttl));
        }
        assert_eq!(cache.set.len(), MAX_IDS);
        assert!(
            !cache.seen_or_record("0", now, ttl),
            "the oldest was forgotten"
        );
    }
}
