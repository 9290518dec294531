//! `netcap agent` and `netcap collect`: the capture pipeline into NATS
//! JetStream, and JetStream into record files (crate netcap-transport).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use netcap_pipeline::{OutputSink, PipelineError};
use netcap_schema::Type;
use netcap_transport::{
    Agent, AgentConfig, AgentStats, CollectConfig, NatsOptions, Rotate, StreamSettings,
    TransportError,
};

use crate::capture::{exit_status, pipeline_config, run_pipeline};
use crate::cli::{AgentArgs, CollectArgs, NatsArgs};

fn seconds(name: &str, s: f64) -> Result<Duration> {
    anyhow::ensure!(
        s.is_finite() && s > 0.0 && s < 1e9,
        "{name} must be a positive number of seconds"
    );
    Ok(Duration::from_secs_f64(s))
}

/// Connection and stream settings; user and password only from the environment.
fn nats_options(a: &NatsArgs, name: &str) -> Result<(NatsOptions, StreamSettings)> {
    let user = std::env::var("NETCAP_NATS_USER").ok();
    let password = std::env::var("NETCAP_NATS_PASSWORD").ok();
    let user_password = match (user, password) {
        (Some(u), Some(p)) => Some((u, p)),
        (None, None) => None,
        _ => anyhow::bail!("set both NETCAP_NATS_USER and NETCAP_NATS_PASSWORD, or neither"),
    };
    anyhow::ensure!(
        a.stream_max_age.is_finite() && a.stream_max_age >= 0.0,
        "--stream-max-age must be a number of hours"
    );
    anyhow::ensure!(matches!(a.replicas, 1..=5), "--replicas must be 1 to 5");
    for url in a.nats.split(',') {
        anyhow::ensure!(
            !url_has_userinfo(url),
            "--nats {url}: no credentials in the URL (other users can read process arguments): \
             use NETCAP_NATS_USER and NETCAP_NATS_PASSWORD, --nkey or --creds"
        );
    }
    let nats = NatsOptions {
        url: a.nats.clone(),
        name: name.to_string(),
        tls_ca: a.tls_ca.clone(),
        tls_cert: a.tls_cert.clone().zip(a.tls_key.clone()),
        tls_required: a.tls,
        creds_file: a.creds.clone(),
        nkey_file: a.nkey.clone(),
        user_password,
        // The agent picks its own (`_INBOX.netcap.<sensor>`).
        inbox_prefix: None,
    };
    let stream = StreamSettings {
        name: a.stream.clone(),
        max_age: Duration::from_secs_f64(a.stream_max_age * 3600.0),
        max_bytes: match a.stream_max_bytes.unwrap_or(10240) {
            0 => -1,
            mib => i64::try_from(mib.saturating_mul(1 << 20)).unwrap_or(i64::MAX),
        },
        fit_max_bytes: a.stream_max_bytes.is_none(),
        replicas: a.replicas,
        ..StreamSettings::default()
    };
    Ok((nats, stream))
}

/// Whether a server URL carries `user:password@` or `token@` (the NATS
/// client would accept it, and everyone would read it in `ps`).
fn url_has_userinfo(url: &str) -> bool {
    let rest = url.trim();
    let rest = rest.split_once("://").map_or(rest, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.contains('@')
}

/// The pipeline's records into the publisher.
struct AgentSink {
    agent: Option<Agent>,
    stats: Option<AgentStats>,
}

impl AgentSink {
    /// The publisher's own error once it has stopped.
    fn stop(&mut self) -> PipelineError {
        match self.agent.take().map(Agent::finish) {
            Some(Ok(stats)) => {
                self.stats = Some(stats);
                PipelineError::Sink(Box::new(TransportError::Closed))
            }
            Some(Err(e)) => PipelineError::Sink(Box::new(e)),
            None => PipelineError::Sink(Box::new(TransportError::Closed)),
        }
    }
}

impl OutputSink for AgentSink {
    fn write(&mut self, ty: Type, bytes: &[u8], count: u64) -> Result<(), PipelineError> {
        let sent = match &self.agent {
            Some(a) => a.send(ty, bytes, count),
            None => Err(TransportError::Closed),
        };
        sent.map_err(|_| self.stop())
    }

    fn finish(&mut self) -> Result<Vec<PathBuf>, PipelineError> {
        if let Some(a) = self.agent.take() {
            self.stats = Some(a.finish().map_err(|e| PipelineError::Sink(Box::new(e)))?);
        }
        Ok(Vec::new())
    }
}

pub fn agent(args: &AgentArgs) -> Result<ExitCode> {
    let (nats, stream) = nats_options(&args.nats, &format!("netcap agent {}", args.sensor))?;
    anyhow::ensure!(args.batch_size > 0, "--batch-size must be at least 1 KiB");
    anyhow::ensure!(
        args.spool_max.is_finite() && args.spool_max >= 0.0,
        "--spool-max must be a number of MiB"
    );
    let cfg = pipeline_config(&args.pipe)?;
    let agent_cfg = AgentConfig {
        stream,
        source: cfg.input.name(),
        created_ns: cfg.created_ns,
        spool_dir: args.spool.clone(),
        spool_max: (args.spool_max * 1048576.0) as u64,
        batch_bytes: args.batch_size.saturating_mul(1 << 10),
        flush_interval: seconds("--flush-interval", args.flush_interval)?,
        ack_timeout: seconds("--ack-timeout", args.ack_timeout)?,
        finish_timeout: seconds("--finish-timeout", args.finish_timeout)?,
        ..AgentConfig::new(nats, &args.sensor)
    };
    let agent = Agent::start(agent_cfg).context("cannot start the agent")?;
    let mut sink = AgentSink {
        agent: Some(agent),
        stats: None,
    };
    let summary = run_pipeline(&cfg, &args.pipe, args.quiet, &mut sink);
    // The publisher's statistics also after a failure: what was sent is sent.
    if let Some(a) = sink.agent.take() {
        sink.stats = a.finish().ok();
    }
    let stats = sink.stats.unwrap_or_default();
    let code = match summary {
        Ok(summary) => Ok(exit_status(&cfg, &summary)),
        Err(e) => Err(e),
    };
    if !args.quiet {
        print_agent(&stats, args);
    }
    let code = code?;
    let lost = stats.records_dropped
        + if stats.left_in_spool_dir {
            0
        } else {
            stats.records_left
        };
    if lost > 0 {
        eprintln!("netcap: error: {lost} records were not sent (see the summary)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(code)
}

fn print_agent(s: &AgentStats, args: &AgentArgs) {
    eprintln!(
        "sent:     {} batches, {} records, {} bytes (zstd; {} uncompressed), {} already stored",
        s.batches_sent, s.records_sent, s.bytes_sent, s.raw_bytes_sent, s.duplicates
    );
    eprintln!("spooled:  {} batches", s.batches_spooled);
    eprintln!(
        "dropped:  {} batches, {} records (spool full past --spool-max, or too large)",
        s.batches_dropped, s.records_dropped
    );
    let left = match (&args.spool, s.batches_left) {
        (_, 0) => String::new(),
        (Some(dir), _) => format!(" (kept in {} for the next run)", dir.display()),
        (None, _) => " (lost: no --spool folder)".to_string(),
    };
    eprintln!(
        "unsent:   {} batches, {} records{left}",
        s.batches_left, s.records_left
    );
}

pub fn collect(args: &CollectArgs) -> Result<ExitCode> {
    let (nats, stream) = nats_options(&args.nats, "netcap collect")?;
    let rotate = args
        .rotate
        .as_deref()
        .map(str::parse::<Rotate>)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--rotate {e}"))?;
    let cfg = CollectConfig {
        stream,
        durable: args.durable.clone(),
        rotate,
        idle_exit: args
            .idle_exit
            .map(|s| seconds("--idle-exit", s))
            .transpose()?,
        ack_wait: seconds("--ack-wait", args.ack_wait)?,
        gzip_level: args.compression_level,
        fetch: usize::from(args.fetch),
        ..CollectConfig::new(nats, args.out.clone())
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))
        .context("cannot install the Ctrl-C handler")?;
    let stats = netcap_transport::collect(&cfg, &stop)?;
    if !args.quiet {
        eprintln!(
            "written:  {} batches, {} records, {} bytes received (zstd), sensors: {}",
            stats.batches,
            stats.records,
            stats.bytes,
            stats
                .sensors
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        );
        eprintln!(
            "skipped:  {} batches already written (redelivered)",
            stats.duplicates
        );
        eprintln!(
            "rejected: {} messages that are not valid batches",
            stats.rejected
        );
        if stats.rotated > 0 {
            eprintln!("rotated:  {} files", stats.rotated);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::url_has_userinfo;

    #[test]
    fn credentials_in_urls_are_found() {
        assert!(url_has_userinfo("nats://u:p@127.0.0.1:4222"));
        assert!(url_has_userinfo("tls://token@host"));
        assert!(url_has_userinfo("u:p@host:4222"));
        assert!(!url_has_userinfo("nats://127.0.0.1:4222"));
        assert!(!url_has_userinfo("host:4222"));
        assert!(!url_has_userinfo("nats://host:4222/path@x"));
    }
}
