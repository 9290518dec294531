//! Prometheus metrics of a running capture (`netcap capture --metrics ADDR`).
//!
//! ```text
//! pipeline threads ──per batch──▶ LiveStats ──snapshot on scrape──▶ families()
//!   (Relaxed atomics,              (netcap-pipeline)                 ──▶ text::encode
//!    no lock per packet)                                             ──▶ server: GET /metrics
//! ```
//!
//! * [`text`]: the Prometheus text exposition format, version 0.0.4.
//! * [`server`]: a small HTTP/1.1 server answering `GET /metrics`, one
//!   request per connection, on one background thread.
//! * [`families`]: every Netcap metric from a [`LiveSnapshot`]; the list with
//!   the meaning of each is in `docs/metrics.md`.
//!
//! [`LiveSnapshot`]: netcap_pipeline::LiveSnapshot
#![forbid(unsafe_code)]

mod netcap;
pub mod server;
pub mod text;

pub use netcap::{families, render, RunInfo};
pub use server::{MetricsServer, ServerError, StopHandle};
