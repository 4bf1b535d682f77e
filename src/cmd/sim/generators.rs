//! Metric values of a simulated device: a generator per metric, seeded from (run seed, device
//! number, metric name) only, so a device's values do not depend on which other devices run in
//! the same process (`--shard`), on the order the devices start, or on other metrics.
//!
//! Every generator keeps state between samples, so values have continuity: a random walk
//! drifts, a gaussian is correlated from one message to the next (its spread over time is still
//! `sd` around `mean`), a counter counts, a sine follows the device's clock.
//!
//! The random source is xoshiro256++ and the maths is the `libm` crate's (pure Rust, not the
//! platform's), so a seed gives the same values on every platform.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Deserialize;
use serde::ser::{Serialize, Serializer};

/// The random number generator of every seeded stream in `sim`.
pub type SimRng = Xoshiro256PlusPlus;

/// A generator for one named stream of one device: `stream_rng(seed, n, "metric:temp")`.
/// The same three inputs give the same sequence on every platform and in every process.
pub fn stream_rng(seed: u64, n: u64, stream: &str) -> SimRng {
    SimRng::seed_from_u64(stream_seed(seed, n, stream))
}

/// Mixes the run seed, a device number and a stream name into one 64-bit seed.
pub fn stream_seed(seed: u64, n: u64, stream: &str) -> u64 {
    // FNV-1a for the name (stable, unlike std's hasher), SplitMix64's finalizer to mix.
    let mut name = 0xcbf2_9ce4_8422_2325_u64;
    for b in stream.bytes() {
        name = (name ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut h = mix(seed ^ 0x9e37_79b9_7f4a_7c15);
    h = mix(h ^ n);
    mix(h ^ name)
}

/// A standard normal draw (Box-Muller, one of the pair).
pub fn standard_normal(rng: &mut SimRng) -> f64 {
    // 1 - [0, 1) is (0, 1]: ln never sees 0.
    let u1 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(std::f64::consts::TAU * u2)
}

/// An exponential draw with mean 1.
pub fn standard_exponential(rng: &mut SimRng) -> f64 {
    -libm::log(1.0 - rng.random::<f64>())
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A metric value as it appears in the telemetry JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Str(t) => s.serialize_str(t),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(t) => write!(f, "{t:?}"),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Int(i64),
            Float(f64),
            Str(String),
        }
        Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected a string, a number or a boolean"))
            .map(|raw| match raw {
                Raw::Bool(b) => Value::Bool(b),
                Raw::Int(i) => Value::Int(i),
                Raw::Float(f) => Value::Float(f),
                Raw::Str(s) => Value::Str(s.into()),
            })
    }
}

/// Decimals of float metrics when the fleet file does not say (`decimals = N`).
pub const DEFAULT_DECIMALS: u32 = 2;
/// How much a gaussian metric remembers of its previous value when the file does not say.
pub const DEFAULT_CORRELATION: f64 = 0.9;
/// The period of a `sine` metric when the file does not say: a day.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(24 * 3600);

/// What a metric generates: the `kind` of a `[group.metrics.NAME]` table and its parameters,
/// validated (finite numbers, `sd >= 0`, `min < max`, weights that add up to more than 0...).
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    /// Values around `mean` with standard deviation `sd`, each correlated with the previous one
    /// by `correlation` (0: independent draws; 0.9: a slow wander). The long-run spread is `sd`
    /// whatever the correlation.
    Gaussian {
        mean: f64,
        sd: f64,
        correlation: f64,
        decimals: u32,
    },
    /// Starts at `start`, moves by a gaussian step of standard deviation `step` at each
    /// message, and bounces off `min` and `max`.
    Walk {
        start: f64,
        step: f64,
        min: f64,
        max: f64,
        decimals: u32,
    },
    /// `mean + amplitude * sin(2π t / period)` plus gaussian noise of standard deviation
    /// `noise`, where t is the time since the device's first message.
    Sine {
        mean: f64,
        amplitude: f64,
        period: Duration,
        noise: f64,
        decimals: u32,
    },
    /// `start`, `start + step`, `start + 2 step`, ...: integers when both are integers.
    Counter { start: Number, step: Number },
    /// One of `values`, picked with `weights` (all equal when not given).
    Choice {
        values: Vec<Value>,
        weights: Vec<f64>,
    },
    /// `true` with this probability, else `false`.
    Bool { probability: f64 },
    /// Always `value`.
    Constant { value: Value },
}

/// A counter's start or step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Float(f64),
        }
        match Raw::deserialize(d).map_err(|_| serde::de::Error::custom("expected a number"))? {
            Raw::Int(i) => Ok(Number::Int(i)),
            Raw::Float(f) if f.is_finite() => Ok(Number::Float(f)),
            Raw::Float(_) => Err(serde::de::Error::custom("expected a finite number")),
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x}"),
        }
    }
}

/// The fleet file's form of a metric, before validation.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
enum RawSpec {
    Gaussian {
        mean: f64,
        sd: f64,
        correlation: Option<f64>,
        decimals: Option<u32>,
    },
    Walk {
        start: f64,
        step: f64,
        min: f64,
        max: f64,
        decimals: Option<u32>,
    },
    Sine {
        mean: f64,
        amplitude: f64,
        period: Option<String>,
        noise: Option<f64>,
        decimals: Option<u32>,
    },
    Counter {
        start: Option<Number>,
        step: Option<Number>,
    },
    Choice {
        values: Vec<Value>,
        weights: Option<Vec<f64>>,
    },
    Bool {
        probability: f64,
    },
    Constant {
        value: Value,
    },
}

impl<'de> Deserialize<'de> for Spec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawSpec::deserialize(d)?;
        Spec::try_from(raw).map_err(serde::de::Error::custom)
    }
}

fn finite(name: &str, v: f64) -> Result<f64, String> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{name} must be a finite number"))
    }
}

fn decimals(d: Option<u32>) -> Result<u32, String> {
    match d.unwrap_or(DEFAULT_DECIMALS) {
        d @ 0..=9 => Ok(d),
        d => Err(format!("decimals = {d}: at most 9")),
    }
}

impl TryFrom<RawSpec> for Spec {
    type Error = String;

    fn try_from(raw: RawSpec) -> Result<Spec, String> {
        Ok(match raw {
            RawSpec::Gaussian {
                mean,
                sd,
                correlation,
                decimals: d,
            } => {
                let correlation = correlation.unwrap_or(DEFAULT_CORRELATION);
                if !(0.0..1.0).contains(&correlation) {
                    return Err(format!(
                        "correlation = {correlation}: must be at least 0 and less than 1"
                    ));
                }
                let sd = finite("sd", sd)?;
                if sd < 0.0 {
                    return Err(format!("sd = {sd}: must not be negative"));
                }
                Spec::Gaussian {
                    mean: finite("mean", mean)?,
                    sd,
                    correlation,
                    decimals: decimals(d)?,
                }
            }
            RawSpec::Walk {
                start,
                step,
                min,
                max,
                decimals: d,
            } => {
                let (start, step) = (finite("start", start)?, finite("step", step)?);
                let (min, max) = (finite("min", min)?, finite("max", max)?);
                if min >= max {
                    return Err(format!("min = {min}, max = {max}: min must be below max"));
                }
                if !(min..=max).contains(&start) {
                    return Err(format!("start = {start}: must be between min and max"));
                }
                if step < 0.0 {
                    return Err(format!("step = {step}: must not be negative"));
                }
                Spec::Walk {
                    start,
                    step,
                    min,
                    max,
                    decimals: decimals(d)?,
                }
            }
            RawSpec::Sine {
                mean,
                amplitude,
                period,
                noise,
                decimals: d,
            } => {
                let period = match period {
                    Some(p) => {
                        super::plan::parse_interval(&p).map_err(|e| format!("period: {e}"))?
                    }
                    None => DEFAULT_PERIOD,
                };
                let noise = finite("noise", noise.unwrap_or(0.0))?;
                if noise < 0.0 {
                    return Err(format!("noise = {noise}: must not be negative"));
                }
                Spec::Sine {
                    mean: finite("mean", mean)?,
                    amplitude: finite("amplitude", amplitude)?,
                    period,
                    noise,
                    decimals: decimals(d)?,
                }
            }
            RawSpec::Counter { start, step } => Spec::Counter {
                start: start.unwrap_or(Number::Int(0)),
                step: step.unwrap_or(Number::Int(1)),
            },
            RawSpec::Choice { values, weights } => {
                if values.is_empty() {
                    return Err("values is empty: give at least one".into());
                }
                let weights = weights.unwrap_or_else(|| vec![1.0; values.len()]);
                if weights.len() != values.len() {
                    return Err(format!(
                        "{} values but {} weights: give one weight per value",
                        values.len(),
                        weights.len()
                    ));
                }
                if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
                    return Err("weights must be finite numbers, none negative".into());
                }
                if weights.iter().sum::<f64>() <= 0.0 {
                    return Err("weights add up to 0: at least one must be positive".into());
                }
                Spec::Choice { values, weights }
            }
            RawSpec::Bool { probability } => {
                if !(0.0..=1.0).contains(&probability) {
                    return Err(format!("probability = {probability}: must be from 0 to 1"));
                }
                Spec::Bool { probability }
            }
            RawSpec::Constant { value } => {
                if let Value::Float(f) = value {
                    finite("value", f)?;
                }
                Spec::Constant { value }
            }
        })
    }
}

impl fmt::Display for Spec {
    /// One line for `--dry-run`: `walk(start 22, step 0.1, min 15, max 30)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spec::Gaussian {
                mean,
                sd,
                correlation,
                ..
            } => write!(
                f,
                "gaussian(mean {mean}, sd {sd}, correlation {correlation})"
            ),
            Spec::Walk {
                start,
                step,
                min,
                max,
                ..
            } => write!(f, "walk(start {start}, step {step}, min {min}, max {max})"),
            Spec::Sine {
                mean,
                amplitude,
                period,
                noise,
                ..
            } => write!(
                f,
                "sine(mean {mean}, amplitude {amplitude}, period {}, noise {noise})",
                humantime::format_duration(*period)
            ),
            Spec::Counter { start, step } => write!(f, "counter(start {start}, step {step})"),
            Spec::Choice { values, weights } => {
                f.write_str("choice(")?;
                for (i, (v, w)) in values.iter().zip(weights).enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}: {w}")?;
                }
                f.write_str(")")
            }
            Spec::Bool { probability } => write!(f, "bool(probability {probability})"),
            Spec::Constant { value } => write!(f, "constant({value})"),
        }
    }
}

/// A named metric of a device group.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: Arc<str>,
    pub spec: Arc<Spec>,
}

impl Metric {
    pub fn new(name: &str, spec: Spec) -> Metric {
        Metric {
            name: name.into(),
            spec: Arc::new(spec),
        }
    }
}

/// The metrics a device sends when no fleet file says otherwise: the lesson's sensor
/// (`temp` around 22 °C, `hum` around 50 %, one decimal), with continuity.
pub fn default_metrics() -> Vec<Metric> {
    vec![
        Metric::new(
            "temp",
            Spec::Gaussian {
                mean: 22.0,
                sd: 1.0,
                correlation: DEFAULT_CORRELATION,
                decimals: 1,
            },
        ),
        Metric::new(
            "hum",
            Spec::Gaussian {
                mean: 50.0,
                sd: 5.0,
                correlation: DEFAULT_CORRELATION,
                decimals: 1,
            },
        ),
    ]
}

/// One metric's generator for one device.
#[derive(Debug, Clone)]
pub struct Generator {
    spec: Arc<Spec>,
    rng: SimRng,
    state: State,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Fresh,
    Float(f64),
    Count(Number),
}

fn round(x: f64, decimals: u32) -> Value {
    if decimals == 0 {
        // An f64 this large is already an integer; `as` saturates at the i64 range.
        return Value::Int(x.round() as i64);
    }
    let scale = 10f64.powi(decimals as i32);
    // `+ 0.0` turns -0.0 into 0.0, so JSON never says "-0.0".
    Value::Float((x * scale).round() / scale + 0.0)
}

impl Generator {
    /// The generator of `metric` for device number `n` in a run with `seed`.
    pub fn new(metric: &Metric, seed: u64, n: u64) -> Generator {
        Generator {
            spec: metric.spec.clone(),
            rng: stream_rng(seed, n, &format!("metric:{}", metric.name)),
            state: State::Fresh,
        }
    }

    /// The next value. `at` is the device's time since its first message (the sum of its
    /// scheduled intervals, not the wall clock, so a run is reproducible); only `sine` reads it.
    pub fn sample(&mut self, at: Duration) -> Value {
        match &*self.spec {
            Spec::Gaussian {
                mean,
                sd,
                correlation,
                decimals,
            } => {
                let z = standard_normal(&mut self.rng);
                let x = match self.state {
                    // AR(1): x' = mean + ρ (x - mean) + sd √(1-ρ²) z keeps the spread at sd.
                    State::Float(prev) => {
                        mean + correlation * (prev - mean)
                            + sd * (1.0 - correlation * correlation).sqrt() * z
                    }
                    _ => mean + sd * z,
                };
                self.state = State::Float(x);
                round(x, *decimals)
            }
            Spec::Walk {
                start,
                step,
                min,
                max,
                decimals,
            } => {
                let x = match self.state {
                    State::Float(prev) => {
                        let z = standard_normal(&mut self.rng);
                        reflect(prev + step * z, *min, *max)
                    }
                    _ => *start,
                };
                self.state = State::Float(x);
                round(x, *decimals)
            }
            Spec::Sine {
                mean,
                amplitude,
                period,
                noise,
                decimals,
            } => {
                let phase = std::f64::consts::TAU * at.as_secs_f64() / period.as_secs_f64();
                let z = standard_normal(&mut self.rng);
                // libm, not the platform's sin: the same value on every machine.
                round(mean + amplitude * libm::sin(phase) + noise * z, *decimals)
            }
            Spec::Counter { start, step } => {
                let next = match (&self.state, start, step) {
                    (State::Count(Number::Int(prev)), _, Number::Int(step)) => {
                        Number::Int(prev.saturating_add(*step))
                    }
                    (State::Count(prev), _, step) => Number::Float(prev.as_f64() + step.as_f64()),
                    (_, start, _) => match (start, step) {
                        (Number::Int(s), Number::Int(_)) => Number::Int(*s),
                        (s, _) => Number::Float(s.as_f64()),
                    },
                };
                self.state = State::Count(next);
                match next {
                    Number::Int(i) => Value::Int(i),
                    Number::Float(f) => round(f, 9),
                }
            }
            Spec::Choice { values, weights } => {
                // A few values: a linear scan, and no per-device table.
                let total: f64 = weights.iter().sum();
                let mut x = self.rng.random_range(0.0..total);
                let mut pick = 0;
                for (i, w) in weights.iter().enumerate() {
                    if *w > 0.0 {
                        pick = i;
                        if x < *w {
                            break;
                        }
                        x -= w;
                    }
                }
                values[pick].clone()
            }
            Spec::Bool { probability } => Value::Bool(self.rng.random_bool(*probability)),
            Spec::Constant { value } => value.clone(),
        }
    }
}

/// Folds `x` back into `[min, max]` as a ball bounces off walls.
fn reflect(x: f64, min: f64, max: f64) -> f64 {
    let width = max - min;
    let mut t = (x - min).rem_euclid(2.0 * width);
    if t > width {
        t = 2.0 * width - t;
    }
    min + t
}

/// All metrics of one device, sampled together for each telemetry message.
#[derive(Debug, Clone)]
pub struct Readings {
    names: Vec<Arc<str>>,
    generators: Vec<Generator>,
    values: Vec<Value>,
}

impl Readings {
    pub fn new(metrics: &[Metric], seed: u64, n: u64) -> Readings {
        Readings {
            names: metrics.iter().map(|m| m.name.clone()).collect(),
            generators: metrics.iter().map(|m| Generator::new(m, seed, n)).collect(),
            values: Vec::with_capacity(metrics.len()),
        }
    }

    /// Samples every metric at device time `at` and returns (name, value) pairs in the
    /// fleet file's order.
    pub fn sample(&mut self, at: Duration) -> impl Iterator<Item = (&str, &Value)> {
        self.values.clear();
        self.values
            .extend(self.generators.iter_mut().map(|g| g.sample(at)));
        self.names.iter().map(|n| &**n).zip(self.values.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaussian(mean: f64, sd: f64, correlation: f64) -> Metric {
        Metric::new(
            "g",
            Spec::Gaussian {
                mean,
                sd,
                correlation,
                decimals: 6,
            },
        )
    }

    fn floats(metric: &Metric, seed: u64, n: u64, count: usize) -> Vec<f64> {
        let mut g = Generator::new(metric, seed, n);
        (0..count)
            .map(|i| match g.sample(Duration::from_secs(i as u64)) {
                Value::Float(f) => f,
                Value::Int(i) => i as f64,
                other => panic!("not a number: {other:?}"),
            })
            .collect()
    }

    fn mean_sd(xs: &[f64]) -> (f64, f64) {
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        (mean, var.sqrt())
    }

    fn spec(toml_text: &str) -> Result<Spec, String> {
        toml::from_str::<Spec>(toml_text).map_err(|e| e.message().to_string())
    }

    #[test]
    fn the_stream_seed_is_pinned_so_values_stay_the_same_across_versions_and_platforms() {
        // If this changes, every seeded fleet changes its values: that is a breaking change.
        let pinned: Vec<u64> = [(0, 1, "metric:temp"), (42, 7, "schedule")]
            .iter()
            .map(|(s, n, name)| stream_seed(*s, *n, name))
            .collect();
        assert_eq!(pinned, PINNED_SEEDS);
        let mut rng = stream_rng(42, 7, "metric:temp");
        assert_eq!(rng.random::<u64>(), PINNED_FIRST_DRAW);
        // And what a device sends: the lesson's metrics of device 1 with seed 0.
        let mut r = Readings::new(&default_metrics(), 0, 1);
        let sent: Vec<String> = (0..3)
            .flat_map(|i| {
                r.sample(Duration::from_secs(i))
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(sent, PINNED_READINGS);
    }

    const PINNED_READINGS: [&str; 6] = [
        "temp=22.4",
        "hum=46.4",
        "temp=22.4",
        "hum=46.2",
        "temp=21.6",
        "hum=45.9",
    ];

    const PINNED_SEEDS: [u64; 2] = [5_546_988_360_396_627_368, 17_286_633_556_145_574_314];
    const PINNED_FIRST_DRAW: u64 = 7_186_838_874_387_700_692;

    #[test]
    fn standard_draws_have_the_textbook_moments() {
        let mut rng = stream_rng(1, 1, "test");
        let normals: Vec<f64> = (0..200_000).map(|_| standard_normal(&mut rng)).collect();
        let (mean, sd) = mean_sd(&normals);
        assert!(mean.abs() < 0.01 && (sd - 1.0).abs() < 0.01, "{mean} {sd}");
        // About 68.3 % within one sd, 95.4 % within two: the shape, not just the moments.
        let within = |k: f64| normals.iter().filter(|z| z.abs() < k).count() as f64 / 2e5;
        assert!((within(1.0) - 0.683).abs() < 0.005 && (within(2.0) - 0.954).abs() < 0.003);
        let exps: Vec<f64> = (0..200_000)
            .map(|_| standard_exponential(&mut rng))
            .collect();
        let (mean, sd) = mean_sd(&exps);
        assert!(
            (mean - 1.0).abs() < 0.01 && (sd - 1.0).abs() < 0.02,
            "{mean} {sd}"
        );
        assert!(exps.iter().all(|e| e.is_finite() && *e >= 0.0));
    }

    #[test]
    fn streams_differ_by_seed_device_and_name() {
        let base = stream_seed(1, 1, "metric:temp");
        assert_ne!(base, stream_seed(2, 1, "metric:temp"));
        assert_ne!(base, stream_seed(1, 2, "metric:temp"));
        assert_ne!(base, stream_seed(1, 1, "metric:hum"));
        assert_eq!(base, stream_seed(1, 1, "metric:temp"));
    }

    #[test]
    fn a_device_gets_the_same_values_whoever_else_is_generated() {
        let m = gaussian(22.0, 1.0, 0.9);
        let alone = floats(&m, 5, 17, 50);
        // Generate other devices first, interleaved: device 17's sequence does not move.
        let mut others: Vec<Generator> = (0..16).map(|n| Generator::new(&m, 5, n)).collect();
        for g in &mut others {
            g.sample(Duration::ZERO);
        }
        assert_eq!(alone, floats(&m, 5, 17, 50));
        assert_ne!(alone, floats(&m, 5, 18, 50));
        assert_ne!(alone, floats(&m, 6, 17, 50));
    }

    #[test]
    fn adding_a_metric_does_not_change_the_values_of_the_others() {
        let temp = Metric::new(
            "temp",
            Spec::Walk {
                start: 20.0,
                step: 0.5,
                min: 0.0,
                max: 40.0,
                decimals: 3,
            },
        );
        let hum = Metric::new("hum", Spec::Bool { probability: 0.5 });
        let mut one = Readings::new(std::slice::from_ref(&temp), 9, 3);
        let mut two = Readings::new(&[hum, temp], 9, 3);
        for i in 0..20 {
            let at = Duration::from_secs(i);
            let a: Vec<Value> = one.sample(at).map(|(_, v)| v.clone()).collect();
            let b: Vec<Value> = two.sample(at).map(|(_, v)| v.clone()).collect();
            assert_eq!(a[0], b[1]);
        }
    }

    #[test]
    fn gaussian_keeps_its_mean_and_sd_over_time() {
        for correlation in [0.0, 0.9] {
            let xs = floats(&gaussian(22.0, 2.0, correlation), 1, 1, 200_000);
            let (mean, sd) = mean_sd(&xs);
            assert!((mean - 22.0).abs() < 0.05, "ρ {correlation}: mean {mean}");
            assert!((sd - 2.0).abs() < 0.05, "ρ {correlation}: sd {sd}");
        }
    }

    #[test]
    fn gaussian_drifts_rather_than_jumps_from_one_message_to_the_next() {
        let step = |xs: &[f64]| {
            xs.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (xs.len() - 1) as f64
        };
        let independent = step(&floats(&gaussian(22.0, 1.0, 0.0), 1, 1, 50_000));
        let smooth = step(&floats(&gaussian(22.0, 1.0, 0.9), 1, 1, 50_000));
        // E|Δ| = sd·√(2(1-ρ))·√(2/π): 1.13 for ρ = 0, 0.36 for ρ = 0.9.
        assert!((independent - 1.128).abs() < 0.03, "{independent}");
        assert!((smooth - 0.357).abs() < 0.02, "{smooth}");
    }

    #[test]
    fn walk_starts_at_start_moves_by_about_step_and_stays_within_bounds() {
        let m = Metric::new(
            "w",
            Spec::Walk {
                start: 22.0,
                step: 0.1,
                min: 21.0,
                max: 23.0,
                decimals: 6,
            },
        );
        let xs = floats(&m, 3, 4, 20_000);
        assert_eq!(xs[0], 22.0);
        assert!(xs.iter().all(|x| (21.0..=23.0).contains(x)));
        let largest = xs
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f64::max);
        // A gaussian step of sd 0.1 exceeds 0.6 with probability 2e-9 per message.
        assert!(largest < 0.6, "{largest}");
        // It goes somewhere: a walk that never moves would pass the checks above.
        let (_, sd) = mean_sd(&xs);
        assert!(sd > 0.1, "{sd}");
    }

    #[test]
    fn walk_bounces_off_its_bounds() {
        assert_eq!(reflect(11.0, 0.0, 10.0), 9.0);
        assert_eq!(reflect(-1.5, 0.0, 10.0), 1.5);
        assert_eq!(reflect(5.0, 0.0, 10.0), 5.0);
        assert_eq!(reflect(25.0, 0.0, 10.0), 5.0);
        assert_eq!(reflect(10.0, 0.0, 10.0), 10.0);
    }

    #[test]
    fn sine_follows_the_device_clock_over_its_period() {
        let m = Metric::new(
            "s",
            Spec::Sine {
                mean: 20.0,
                amplitude: 5.0,
                period: Duration::from_secs(100),
                noise: 0.0,
                decimals: 6,
            },
        );
        let mut g = Generator::new(&m, 1, 1);
        let at = |g: &mut Generator, s: u64| g.sample(Duration::from_secs(s));
        assert_eq!(at(&mut g, 0), Value::Float(20.0));
        assert_eq!(at(&mut g, 25), Value::Float(25.0));
        assert_eq!(at(&mut g, 75), Value::Float(15.0));
        assert_eq!(at(&mut g, 100), Value::Float(20.0));
    }

    #[test]
    fn sine_noise_has_the_requested_sd() {
        let m = Metric::new(
            "s",
            Spec::Sine {
                mean: 0.0,
                amplitude: 0.0,
                period: DEFAULT_PERIOD,
                noise: 0.5,
                decimals: 6,
            },
        );
        let (mean, sd) = mean_sd(&floats(&m, 1, 1, 100_000));
        assert!(mean.abs() < 0.01 && (sd - 0.5).abs() < 0.01, "{mean} {sd}");
    }

    #[test]
    fn counter_counts_in_integers_or_floats() {
        let ints = Metric::new(
            "c",
            Spec::Counter {
                start: Number::Int(10),
                step: Number::Int(5),
            },
        );
        let mut g = Generator::new(&ints, 1, 1);
        let got: Vec<Value> = (0..3).map(|_| g.sample(Duration::ZERO)).collect();
        assert_eq!(got, [Value::Int(10), Value::Int(15), Value::Int(20)]);
        let floats = Metric::new(
            "c",
            Spec::Counter {
                start: Number::Int(0),
                step: Number::Float(0.1),
            },
        );
        let mut g = Generator::new(&floats, 1, 1);
        let got: Vec<Value> = (0..4).map(|_| g.sample(Duration::ZERO)).collect();
        assert_eq!(
            got,
            [
                Value::Float(0.0),
                Value::Float(0.1),
                Value::Float(0.2),
                Value::Float(0.3)
            ]
        );
    }

    #[test]
    fn counter_saturates_instead_of_wrapping() {
        let m = Metric::new(
            "c",
            Spec::Counter {
                start: Number::Int(i64::MAX - 1),
                step: Number::Int(1),
            },
        );
        let mut g = Generator::new(&m, 1, 1);
        let got: Vec<Value> = (0..3).map(|_| g.sample(Duration::ZERO)).collect();
        assert_eq!(
            got,
            [
                Value::Int(i64::MAX - 1),
                Value::Int(i64::MAX),
                Value::Int(i64::MAX)
            ]
        );
    }

    #[test]
    fn choice_follows_its_weights() {
        let m = Metric::new(
            "c",
            Spec::Choice {
                values: vec![
                    Value::Str("ok".into()),
                    Value::Str("warn".into()),
                    Value::Int(3),
                ],
                weights: vec![7.0, 3.0, 0.0],
            },
        );
        let mut g = Generator::new(&m, 1, 1);
        let mut ok = 0;
        for _ in 0..100_000 {
            match g.sample(Duration::ZERO) {
                Value::Str(s) if &*s == "ok" => ok += 1,
                Value::Str(s) if &*s == "warn" => {}
                other => panic!("weight 0 was picked: {other:?}"),
            }
        }
        assert!((69_000..71_000).contains(&ok), "{ok}");
    }

    #[test]
    fn bool_is_true_with_its_probability() {
        let m = Metric::new("b", Spec::Bool { probability: 0.25 });
        let mut g = Generator::new(&m, 1, 1);
        let trues = (0..100_000)
            .filter(|_| g.sample(Duration::ZERO) == Value::Bool(true))
            .count();
        assert!((24_000..26_000).contains(&trues), "{trues}");
    }

    #[test]
    fn constant_is_constant() {
        let m = Metric::new(
            "c",
            Spec::Constant {
                value: Value::Str("v1".into()),
            },
        );
        let mut g = Generator::new(&m, 1, 1);
        assert!((0..5).all(|_| g.sample(Duration::ZERO) == Value::Str("v1".into())));
    }

    #[test]
    fn floats_are_rounded_to_decimals_and_zero_decimals_gives_integers() {
        assert_eq!(round(22.3456, 1), Value::Float(22.3));
        assert_eq!(round(22.35, 0), Value::Int(22));
        assert_eq!(round(-0.0001, 2), Value::Float(0.0));
        assert_eq!(serde_json::to_string(&round(-0.0001, 2)).unwrap(), "0.0");
    }

    #[test]
    fn readings_come_in_the_metrics_order() {
        let metrics = default_metrics();
        let mut r = Readings::new(&metrics, 0, 1);
        let names: Vec<&str> = r.sample(Duration::ZERO).map(|(n, _)| n).collect();
        assert_eq!(names, ["temp", "hum"]);
    }

    #[test]
    fn the_lesson_metrics_are_temperature_and_humidity_with_one_decimal() {
        let metrics = default_metrics();
        let mut r = Readings::new(&metrics, 0, 1);
        for i in 0..100 {
            for (name, v) in r.sample(Duration::from_secs(i)) {
                let Value::Float(x) = v else { panic!("{v:?}") };
                assert_eq!((x * 10.0).round() / 10.0, *x);
                let range = if name == "temp" {
                    15.0..29.0
                } else {
                    15.0..85.0
                };
                assert!(range.contains(x), "{name} {x}");
            }
        }
    }

    #[test]
    fn specs_parse_from_toml_with_defaults() {
        assert_eq!(
            spec("kind = 'gaussian'\nmean = 50\nsd = 5").unwrap(),
            Spec::Gaussian {
                mean: 50.0,
                sd: 5.0,
                correlation: DEFAULT_CORRELATION,
                decimals: DEFAULT_DECIMALS
            }
        );
        assert_eq!(
            spec("kind = 'sine'\nmean = 20\namplitude = 3\nperiod = '1h'").unwrap(),
            Spec::Sine {
                mean: 20.0,
                amplitude: 3.0,
                period: Duration::from_secs(3600),
                noise: 0.0,
                decimals: DEFAULT_DECIMALS
            }
        );
        assert_eq!(
            spec("kind = 'counter'").unwrap(),
            Spec::Counter {
                start: Number::Int(0),
                step: Number::Int(1)
            }
        );
        assert_eq!(
            spec("kind = 'choice'\nvalues = ['a', 2, true, 1.5]").unwrap(),
            Spec::Choice {
                values: vec![
                    Value::Str("a".into()),
                    Value::Int(2),
                    Value::Bool(true),
                    Value::Float(1.5)
                ],
                weights: vec![1.0; 4]
            }
        );
        assert_eq!(
            spec("kind = 'constant'\nvalue = 'x'").unwrap(),
            Spec::Constant {
                value: Value::Str("x".into())
            }
        );
        assert_eq!(
            spec("kind = 'bool'\nprobability = 0.5").unwrap(),
            Spec::Bool { probability: 0.5 }
        );
    }

    #[test]
    fn invalid_specs_are_refused_with_the_reason() {
        let cases = [
            ("kind = 'gaussian'\nmean = 1\nsd = -1", "sd = -1"),
            (
                "kind = 'gaussian'\nmean = 1\nsd = 1\ncorrelation = 1.0",
                "correlation",
            ),
            (
                "kind = 'walk'\nstart = 1\nstep = 1\nmin = 5\nmax = 2",
                "min must be below max",
            ),
            (
                "kind = 'walk'\nstart = 9\nstep = 1\nmin = 0\nmax = 2",
                "start = 9",
            ),
            (
                "kind = 'walk'\nstart = 1\nstep = -1\nmin = 0\nmax = 2",
                "step = -1",
            ),
            (
                "kind = 'sine'\nmean = 1\namplitude = 1\nperiod = '0s'",
                "period",
            ),
            (
                "kind = 'sine'\nmean = 1\namplitude = 1\nperiod = 'soon'",
                "period",
            ),
            ("kind = 'choice'\nvalues = []", "at least one"),
            (
                "kind = 'choice'\nvalues = ['a']\nweights = [1, 2]",
                "one weight per value",
            ),
            (
                "kind = 'choice'\nvalues = ['a']\nweights = [0]",
                "add up to 0",
            ),
            (
                "kind = 'choice'\nvalues = ['a']\nweights = [-1]",
                "none negative",
            ),
            ("kind = 'bool'\nprobability = 1.5", "from 0 to 1"),
            (
                "kind = 'gaussian'\nmean = 1\nsd = 1\ndecimals = 12",
                "at most 9",
            ),
            ("kind = 'gaussian'\nmean = nan\nsd = 1", "finite"),
            ("kind = 'gaussian'\nmean = 1", "sd"),
            ("kind = 'gaussian'\nmean = 1\nsd = 1\nmedian = 2", "median"),
            ("kind = 'normal'\nmean = 1\nsd = 1", "normal"),
        ];
        for (text, want) in cases {
            let err = spec(text).expect_err(text);
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn specs_render_on_one_line_for_the_dry_run() {
        let s = spec("kind = 'walk'\nstart = 22\nstep = 0.1\nmin = 15\nmax = 30").unwrap();
        assert_eq!(s.to_string(), "walk(start 22, step 0.1, min 15, max 30)");
        let s = spec("kind = 'choice'\nvalues = ['ok', 'warn']\nweights = [9, 1]").unwrap();
        assert_eq!(s.to_string(), "choice(\"ok\": 9, \"warn\": 1)");
        let s = spec("kind = 'sine'\nmean = 1\namplitude = 2\nperiod = '1h'").unwrap();
        assert_eq!(
            s.to_string(),
            "sine(mean 1, amplitude 2, period 1h, noise 0)"
        );
    }
}
