//! `--verify`: from the (device, seq) of every telemetry message received, which sequence
//! numbers never arrived (lost) and which arrived more than once (duplicates).
//!
//! Each device numbers its telemetry 0, 1, 2, ... without gaps. A message may arrive late
//! and out of order (a QoS 1 resend after a reconnect), so a gap is only counted as lost at
//! the end. Memory per device is constant while messages arrive in order.

use std::collections::{BTreeSet, HashMap};

use super::report::Verification;

#[derive(Debug, Default)]
struct Track {
    /// Every seq below this arrived.
    below: u64,
    /// Seqs at or above `below + 1` that arrived.
    above: BTreeSet<u64>,
    /// How many the device says it sent (seqs 0..sent), once known.
    sent: Option<u64>,
}

impl Track {
    /// Records `seq`; false if it had arrived before.
    fn insert(&mut self, seq: u64) -> bool {
        if seq < self.below || self.above.contains(&seq) {
            return false;
        }
        if seq == self.below {
            self.below += 1;
            while self.above.remove(&self.below) {
                self.below += 1;
            }
        } else {
            self.above.insert(seq);
        }
        true
    }

    fn distinct(&self) -> u64 {
        self.below + self.above.len() as u64
    }

    /// Seqs expected and not seen: up to what was sent, or else up to the highest seen.
    fn lost(&self) -> u64 {
        let highest_seen = self.above.last().map_or(self.below, |h| h + 1);
        let expected = self.sent.unwrap_or(0).max(highest_seen);
        expected - self.distinct()
    }
}

/// Counts lost and duplicate telemetry of this run's devices.
#[derive(Debug, Default)]
pub struct Verifier {
    devices: HashMap<String, Track>,
    received: u64,
    duplicates: u64,
    foreign: u64,
}

impl Verifier {
    /// A verifier for the devices with these ids; messages from other devices (another shard
    /// publishing under the same prefix) are counted as foreign and otherwise ignored.
    pub fn new<I, S>(ids: I) -> Verifier
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Verifier {
            devices: ids
                .into_iter()
                .map(|id| (id.into(), Track::default()))
                .collect(),
            ..Verifier::default()
        }
    }

    /// A telemetry message from `device` with sequence number `seq` arrived.
    pub fn observe(&mut self, device: &str, seq: u64) {
        let Some(track) = self.devices.get_mut(device) else {
            self.foreign += 1;
            return;
        };
        self.received += 1;
        if !track.insert(seq) {
            self.duplicates += 1;
        }
    }

    /// `device` sent `count` messages in all (seqs `0..count`): seqs missing at the end count
    /// as lost too.
    pub fn sent(&mut self, device: &str, count: u64) {
        if let Some(track) = self.devices.get_mut(device) {
            track.sent = Some(count);
        }
    }

    pub fn result(&self) -> Verification {
        Verification {
            received: self.received,
            lost: self.devices.values().map(Track::lost).sum(),
            duplicates: self.duplicates,
            foreign: self.foreign,
        }
    }

    /// The devices with seqs missing, and how many each, sorted by id (for a diagnostic).
    pub fn gaps(&self) -> Vec<(&str, u64)> {
        let mut gaps: Vec<(&str, u64)> = self
            .devices
            .iter()
            .map(|(id, t)| (id.as_str(), t.lost()))
            .filter(|(_, lost)| *lost > 0)
            .collect();
        gaps.sort();
        gaps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(ids: &[&str], observed: &[(&str, u64)], sent: &[(&str, u64)]) -> Verification {
        let mut v = Verifier::new(ids.iter().copied());
        for (d, s) in observed {
            v.observe(d, *s);
        }
        for (d, c) in sent {
            v.sent(d, *c);
        }
        v.result()
    }

    #[test]
    fn everything_in_order_is_neither_lost_nor_duplicated() {
        let seen: Vec<(&str, u64)> = (0..100).flat_map(|s| [("a", s), ("b", s)]).collect();
        let r = verify(&["a", "b"], &seen, &[("a", 100), ("b", 100)]);
        assert_eq!(
            r,
            Verification {
                received: 200,
                lost: 0,
                duplicates: 0,
                foreign: 0
            }
        );
    }

    #[test]
    fn a_gap_is_lost() {
        let r = verify(&["a"], &[("a", 0), ("a", 1), ("a", 4), ("a", 5)], &[]);
        assert_eq!((r.received, r.lost, r.duplicates), (4, 2, 0));
    }

    #[test]
    fn a_missing_first_message_is_lost() {
        let r = verify(&["a"], &[("a", 1), ("a", 2)], &[]);
        assert_eq!(r.lost, 1);
    }

    #[test]
    fn a_late_message_fills_its_gap() {
        let r = verify(
            &["a"],
            &[("a", 0), ("a", 2), ("a", 3), ("a", 1)],
            &[("a", 4)],
        );
        assert_eq!((r.lost, r.duplicates), (0, 0));
    }

    #[test]
    fn a_repeated_message_is_a_duplicate_before_and_after_a_gap() {
        let r = verify(
            &["a"],
            &[("a", 0), ("a", 0), ("a", 3), ("a", 3), ("a", 1), ("a", 2)],
            &[],
        );
        assert_eq!((r.received, r.lost, r.duplicates), (6, 0, 2));
    }

    #[test]
    fn messages_missing_at_the_end_are_lost_once_the_sent_count_is_known() {
        let seen = [("a", 0), ("a", 1)];
        assert_eq!(verify(&["a"], &seen, &[]).lost, 0);
        assert_eq!(verify(&["a"], &seen, &[("a", 5)]).lost, 3);
        // A device that sent and was never heard from lost everything.
        assert_eq!(verify(&["a", "b"], &seen, &[("b", 4)]).lost, 4);
    }

    #[test]
    fn other_devices_are_foreign_and_do_not_count() {
        let r = verify(&["a"], &[("a", 0), ("x", 0), ("x", 5)], &[("x", 10)]);
        assert_eq!(
            r,
            Verification {
                received: 1,
                lost: 0,
                duplicates: 0,
                foreign: 2
            }
        );
    }

    #[test]
    fn gaps_name_the_devices_that_lost_messages() {
        let mut v = Verifier::new(["b", "a", "c"]);
        v.observe("a", 2);
        v.observe("b", 0);
        v.observe("c", 0);
        v.sent("c", 3);
        assert_eq!(v.gaps(), [("a", 2), ("c", 2)]);
    }

    #[test]
    fn in_order_delivery_keeps_no_per_message_state() {
        let mut v = Verifier::new(["a"]);
        for s in 0..10_000 {
            v.observe("a", s);
        }
        let track = &v.devices["a"];
        assert!(track.above.is_empty());
        assert_eq!(track.below, 10_000);
    }
}
