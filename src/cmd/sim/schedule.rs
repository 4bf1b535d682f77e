//! When things happen to a device: its telemetry times, its chaos drops and its reconnect
//! delays. Each is seeded from (run seed, device number, stream name) like the metric values,
//! so a seed reproduces the schedule too, and a device's times do not depend on the shard.

use std::time::Duration;

use rand::Rng;

use super::generators::{SimRng, standard_exponential, stream_rng};
use super::plan::Jitter;

/// A device's telemetry times, as offsets from its start.
///
/// The first message comes at a random point of the first interval, so a fleet started at
/// once spreads its messages evenly instead of sending them in bursts; each next one comes an
/// interval later, moved by up to ± the jitter. Offsets add up from the schedule, not from
/// when messages were actually sent, so a late message does not delay the ones after it.
#[derive(Debug, Clone)]
pub struct Schedule {
    rng: SimRng,
    interval: Duration,
    jitter: Jitter,
    last: Option<Duration>,
}

impl Schedule {
    pub fn new(seed: u64, n: u64, interval: Duration, jitter: Jitter) -> Schedule {
        Schedule {
            rng: stream_rng(seed, n, "schedule"),
            interval,
            jitter,
            last: None,
        }
    }

    /// The offset of the next telemetry message from the device's start. This is also the
    /// device time the metric generators get, so a run's values do not depend on the clock.
    pub fn next_due(&mut self) -> Duration {
        let next = match self.last {
            None => self.interval.mul_f64(self.rng.random_range(0.0..1.0)),
            Some(last) => {
                let amount = self.jitter.amount(self.interval).as_secs_f64();
                let shift = if amount > 0.0 {
                    self.rng.random_range(-amount..=amount)
                } else {
                    0.0
                };
                last + Duration::from_secs_f64(self.interval.as_secs_f64() + shift)
            }
        };
        self.last = Some(next);
        next
    }

    /// A new interval (the `{"interval":"5s"}` command), from the next message on.
    pub fn set_interval(&mut self, interval: Duration) {
        self.interval = interval;
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }
}

/// `--chaos`: the times at which a device is dropped, a Poisson process with `per_minute`
/// drops per minute on average.
#[derive(Debug, Clone)]
pub struct Chaos {
    rng: SimRng,
    mean_gap: f64,
}

impl Chaos {
    pub fn new(seed: u64, n: u64, per_minute: f64) -> Chaos {
        Chaos {
            rng: stream_rng(seed, n, "chaos"),
            mean_gap: 60.0 / per_minute,
        }
    }

    /// How long after the previous drop (or the device's start) the next drop comes.
    pub fn next_gap(&mut self) -> Duration {
        let e = standard_exponential(&mut self.rng);
        Duration::try_from_secs_f64(e * self.mean_gap).unwrap_or(Duration::MAX)
    }
}

/// Reconnect delays: exponential from `BACKOFF_FIRST` up to `BACKOFF_MAX`, each with "equal
/// jitter" (half fixed, half random), so a fleet that lost its broker does not come back in one
/// thundering herd, and no device retries faster than half the nominal delay.
#[derive(Debug, Clone)]
pub struct Backoff {
    rng: SimRng,
    attempt: u32,
}

pub const BACKOFF_FIRST: Duration = Duration::from_millis(250);
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);

impl Backoff {
    pub fn new(seed: u64, n: u64) -> Backoff {
        Backoff {
            rng: stream_rng(seed, n, "backoff"),
            attempt: 0,
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let nominal = BACKOFF_FIRST
            .saturating_mul(1u32 << self.attempt.min(16))
            .min(BACKOFF_MAX);
        self.attempt = self.attempt.saturating_add(1);
        let half = nominal.as_secs_f64() / 2.0;
        Duration::from_secs_f64(half + self.rng.random_range(0.0..=half))
    }

    /// Back to the first delay, after a connection was accepted.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn the_first_message_falls_somewhere_in_the_first_interval() {
        let firsts: Vec<Duration> = (1..=1000)
            .map(|n| Schedule::new(1, n, SECOND, Jitter::default()).next_due())
            .collect();
        assert!(firsts.iter().all(|d| *d < SECOND));
        let early = firsts.iter().filter(|d| **d < SECOND / 2).count();
        assert!(
            (400..600).contains(&early),
            "{early} of 1000 in the first half"
        );
    }

    #[test]
    fn without_jitter_messages_are_exactly_one_interval_apart() {
        let mut s = Schedule::new(1, 1, SECOND, Jitter::default());
        let first = s.next_due();
        for k in 1..=100u32 {
            assert_eq!(s.next_due(), first + SECOND * k);
        }
    }

    #[test]
    fn jitter_moves_each_message_within_its_bounds_without_drifting() {
        let jitter = Jitter::Fixed(Duration::from_millis(100));
        let mut s = Schedule::new(2, 5, SECOND, jitter);
        let mut last = s.next_due();
        let mut moved = 0;
        for _ in 0..10_000 {
            let next = s.next_due();
            let gap = next - last;
            assert!(
                gap >= Duration::from_millis(900) && gap <= Duration::from_millis(1100),
                "{gap:?}"
            );
            if gap != SECOND {
                moved += 1;
            }
            last = next;
        }
        assert!(moved > 9_900);
        // Shifts are centred: 10 000 intervals take about 10 000 s.
        let total = last.as_secs_f64();
        assert!((total - 10_000.0).abs() < 20.0, "{total}");
    }

    #[test]
    fn an_interval_command_changes_the_gaps_from_the_next_message() {
        let mut s = Schedule::new(1, 1, SECOND, Jitter::default());
        let a = s.next_due();
        let b = s.next_due();
        s.set_interval(Duration::from_secs(5));
        assert_eq!(s.interval(), Duration::from_secs(5));
        assert_eq!(b - a, SECOND);
        assert_eq!(s.next_due() - b, Duration::from_secs(5));
    }

    #[test]
    fn a_percentage_jitter_follows_the_new_interval() {
        let mut s = Schedule::new(1, 1, SECOND, Jitter::Fraction(0.5));
        s.set_interval(Duration::from_millis(10));
        let mut last = s.next_due();
        for _ in 0..1000 {
            let next = s.next_due();
            assert!(
                next - last <= Duration::from_millis(15) && next - last >= Duration::from_millis(5)
            );
            last = next;
        }
    }

    #[test]
    fn schedules_are_reproducible_per_seed_and_device() {
        let times = |seed, n| {
            let mut s = Schedule::new(seed, n, SECOND, Jitter::Fraction(0.2));
            (0..10).map(|_| s.next_due()).collect::<Vec<_>>()
        };
        assert_eq!(times(1, 1), times(1, 1));
        assert_ne!(times(1, 1), times(1, 2));
        assert_ne!(times(1, 1), times(2, 1));
    }

    #[test]
    fn chaos_drops_a_device_per_minute_rate_on_average() {
        let mut c = Chaos::new(1, 1, 0.5);
        let total: f64 = (0..20_000).map(|_| c.next_gap().as_secs_f64()).sum();
        let mean = total / 20_000.0;
        assert!((mean - 120.0).abs() < 3.0, "{mean}");
    }

    #[test]
    fn chaos_times_differ_between_devices() {
        let a: Vec<Duration> = (0..5)
            .map({
                let mut c = Chaos::new(1, 1, 1.0);
                move |_| c.next_gap()
            })
            .collect();
        let b: Vec<Duration> = (0..5)
            .map({
                let mut c = Chaos::new(1, 2, 1.0);
                move |_| c.next_gap()
            })
            .collect();
        assert_ne!(a, b);
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_with_equal_jitter() {
        let mut b = Backoff::new(1, 1);
        let mut nominal = BACKOFF_FIRST;
        for _ in 0..20 {
            let d = b.next_delay();
            assert!(d >= nominal / 2 && d <= nominal, "{d:?} for {nominal:?}");
            nominal = (nominal * 2).min(BACKOFF_MAX);
        }
        b.reset();
        assert!(b.next_delay() <= BACKOFF_FIRST);
    }

    #[test]
    fn backoff_spreads_a_fleet_reconnecting_at_once() {
        let delays: Vec<Duration> = (1..=100).map(|n| Backoff::new(1, n).next_delay()).collect();
        let distinct: std::collections::BTreeSet<Duration> = delays.iter().copied().collect();
        assert!(
            distinct.len() > 95,
            "{} distinct delays of 100",
            distinct.len()
        );
    }
}
