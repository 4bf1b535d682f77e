//! `mqtk sim`: a fleet of simulated sensor devices. The pure parts live here, each with its
//! unit tests: the plan (flags and fleet file), value generators and schedules, device
//! payloads and commands, metrics, the report, thresholds and the delivery verifier.

pub mod args;
pub mod generators;
pub mod metrics;
pub mod payload;
pub mod plan;
pub mod report;
pub mod schedule;
pub mod thresholds;
pub mod verifier;
