//! The streams of one connection (being written).

/// Stream layer configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamConfig {}
/// Per-connection counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamCounters {}
/// Totals for the summary.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamTotals {}
/// The streams of one connection.
#[derive(Debug, Default)]
pub struct ConnStreams {}
