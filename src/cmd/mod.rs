//! Command glue: each module turns parsed arguments into I/O, using the pure cores and `conn`.

pub mod certgen;
pub mod generate;
pub mod passwd;
pub mod publish;
pub mod request;
pub mod sim;
pub mod subscribe;
