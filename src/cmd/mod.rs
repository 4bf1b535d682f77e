//! Command glue: each module turns parsed arguments into I/O, using the pure cores and `conn`.
//! The helpers the commands share have their own files: `input` (payloads and the `-l` line
//! reader), `output` (the `sub`/`rr` printer) and `signals` (SIGINT/SIGTERM and -W).

pub mod certgen;
pub mod generate;
pub mod passwd;
pub mod publish;
pub mod request;
pub mod sim;
pub mod subscribe;

mod input;
mod output;
mod signals;
