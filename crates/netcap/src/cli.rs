//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use netcap_format::{Codec, OutputFormat};
use netcap_pipeline::FlowConfig;

/// Netcap turns network packets into typed, structured audit records: one file
/// of Protocol Buffers records per protocol (Ethernet.ncap.gz, TCP.ncap.gz, ...),
/// readable from any language with the shipped schema, or as CSV and JSON.
#[derive(Debug, Parser)]
#[command(
    name = "netcap",
    version,
    after_help = "Examples:\n  \
        netcap capture -r traffic.pcap -o out/\n  \
        sudo netcap capture -i eth0 --bpf 'tcp port 443' -o out/\n  \
        netcap dump -r out/TCP.ncap.gz\n  \
        netcap dump -r out/TCP.ncap.gz --select Timestamp,SrcPort,DstPort --tsv\n  \
        netcap dump -r out/TCP.ncap.gz --header\n  \
        netcap capture -r traffic.pcap -o out/ --compression zstd\n  \
        netcap dump -r out/TCP.ncap.zst\n  \
        netcap capture -r traffic.pcap -o out/ --format parquet\n  \
        netcap convert -r out/ -o parquet/ --format parquet\n  \
        netcap label -r out/ -o labelled/ --alerts eve.json\n  \
        netcap types"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at start: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode a pcap or pcapng file into one record file per protocol.
    Capture(Box<CaptureArgs>),
    /// Print the records of a .ncap, .ncap.gz or .ncap.zst file as CSV, JSON, a table or text.
    Dump(DumpArgs),
    /// Convert record files (one, or a folder of them) to Parquet, CSV or JSON files.
    Convert(ConvertArgs),
    /// Label records as attack or normal from Suricata alerts or a ground-truth file.
    Label(LabelArgs),
    /// List the record types with their number of fields.
    Types,
    /// List the network interfaces that can be captured from.
    Interfaces,
    /// Capture and publish the records to NATS JetStream (a sensor).
    #[cfg(feature = "nats")]
    Agent(AgentArgs),
    /// Write what the sensors publish on NATS JetStream into record files.
    #[cfg(feature = "nats")]
    Collect(CollectArgs),
}

/// Decode every packet of a capture and write audit records.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    netcap capture -r traffic.pcap -o out/            # out/Ethernet.ncap.gz, out/TCP.ncap.gz, ...\n  \
    netcap capture -r traffic.pcap -o out/ --compression zstd  # out/TCP.ncap.zst, ...\n  \
    netcap capture -r traffic.pcap -o out/ --format parquet     # out/TCP.parquet, ...\n  \
    netcap capture -r traffic.pcapng -o out/ --no-compress --workers 1\n  \
    netcap capture -r traffic.pcap -o out/ --include TCP,UDP,DNS\n  \
    netcap capture -r traffic.pcap -o out/ --bpf 'udp port 53'\n  \
    netcap capture -r traffic.pcap -o out/ --include HTTP,TLSClientHello,X509Certificate\n  \
    sudo netcap capture -i eth0 -o out/                  # until Ctrl-C\n\n\
    TCP streams are reassembled and parsed by content (HTTP, TLS with JA3/JA4 and\n\
    certificates, DNS over TCP): see docs/streams.md; --no-streams turns them off.\n\n\
    Packets with a layer Netcap does not decode go to out/unknown.pcap, packets whose\n\
    decoding failed to out/errors.pcap, with details and a hex dump in out/errors.log.\n\n\
    Output is byte-identical for the same input and options whatever --workers is.\n\
    Set SOURCE_DATE_EPOCH (seconds) to fix the creation time written into the file headers.\n\n\
    Ctrl-C or SIGTERM stops reading; every file is flushed and valid and the summary is\n\
    printed. Exit status: 0 on success (also when the input was cut short: a warning says\n\
    where; and a live capture stopped by Ctrl-C or SIGTERM), 130 when the reading of a\n\
    file was interrupted, 1 on an error (unreadable input, output folder or write\n\
    failure), 2 on a usage error.")]
pub struct CaptureArgs {
    #[command(flatten)]
    pub pipe: PipelineArgs,

    /// Folder for the record files (created if missing).
    #[arg(short = 'o', long = "out", value_name = "DIR", default_value = ".")]
    pub out: PathBuf,

    /// Compression of the record files. At the default levels zstd's files
    /// are about 14% smaller than gzip's for the same CPU time (see
    /// --compression-level for faster settings); gzip's can be read by more
    /// tools. `netcap dump` reads all three kinds, telling them apart by
    /// content.
    #[arg(
        long,
        value_name = "CODEC",
        value_enum,
        default_value_t = Compression::Gzip,
        conflicts_with_all = ["no_compress", "csv", "json"]
    )]
    pub compression: Compression,

    /// Format of the files: record files (TYPE.ncap.gz, ...; --compression
    /// applies), CSV or JSON lines (as `netcap dump`), or Parquet
    /// (TYPE.parquet, zstd-compressed columns, see docs/parquet.md).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Ncap, conflicts_with_all = ["csv", "json"])]
    pub format: Format,

    /// Compression level of the chosen codec: higher is smaller and slower.
    /// gzip: 0 (stored, no compression) to 9, default 1. zstd: -7 (fastest)
    /// to 19 except 0, default 1; at -1 it takes a little less CPU time than
    /// gzip's 1 and its files are still a little smaller. zstd's high levels
    /// also need much more memory (at 19 about 25 MB per record file, 1 GB
    /// for a typical capture). With --format parquet: the zstd level of
    /// the columns, 1 to 22, default 1.
    #[arg(
        long,
        value_name = "LEVEL",
        allow_negative_numbers = true,
        conflicts_with_all = ["no_compress", "csv", "json"]
    )]
    pub compression_level: Option<i32>,

    /// Write plain .ncap files: the same as --compression none.
    #[arg(long)]
    pub no_compress: bool,

    /// Write TYPE.csv files (same columns and values as `netcap dump`) instead of .ncap files.
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,

    /// Write TYPE.json files (one object per line, as `netcap dump --json`) instead of .ncap files.
    #[arg(long)]
    pub json: bool,

    /// Do not write unknown.pcap, errors.pcap and errors.log.
    #[arg(long)]
    pub no_side_outputs: bool,

    /// Print no progress and no summary.
    #[arg(short, long)]
    pub quiet: bool,
}

/// What is read and how it is decoded: shared by `capture` and `agent`.
#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// Capture file to read (pcap or pcapng, optionally gzip-compressed).
    #[arg(
        short = 'r',
        long = "read",
        value_name = "FILE",
        required_unless_present = "interface"
    )]
    pub input: Option<PathBuf>,

    /// Capture live from this interface until Ctrl-C or SIGTERM (see `netcap interfaces`).
    #[arg(short = 'i', long, value_name = "IFACE", conflicts_with = "input")]
    pub interface: Option<String>,

    /// Only packets matching this filter (tcpdump syntax, compiled by libpcap);
    /// in the kernel for live capture.
    #[arg(long, value_name = "EXPR")]
    pub bpf: Option<String>,

    /// Live capture: bytes kept of each packet.
    #[arg(long, value_name = "BYTES", default_value_t = 262_144)]
    pub snaplen: i32,

    /// Live capture: do not put the interface in promiscuous mode.
    #[arg(long)]
    pub no_promisc: bool,

    /// Decoding threads [default: number of cores].
    #[arg(short = 'w', long, value_name = "N")]
    pub workers: Option<usize>,

    /// Compute PayloadEntropy (costs a pass over every payload).
    #[arg(long)]
    pub entropy: bool,

    /// Write only these record types (comma-separated; see `netcap types`).
    #[arg(long, value_name = "TYPES", value_delimiter = ',')]
    pub include: Vec<String>,

    /// Write all record types but these (comma-separated).
    #[arg(
        long,
        value_name = "TYPES",
        value_delimiter = ',',
        conflicts_with = "include"
    )]
    pub exclude: Vec<String>,

    /// Do not track connections (no Connection records).
    #[arg(long)]
    pub no_flows: bool,

    /// Do not reassemble IP fragments: decode each fragment on its own (the
    /// first one's transport header included, as tshark with reassembly off).
    #[arg(long)]
    pub no_defrag: bool,

    /// Seconds (packet time) an IP datagram may stay incomplete before its
    /// fragments are dropped.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub frag_timeout: f64,

    /// Most memory, in MiB, held by incomplete IP datagrams; past it the
    /// oldest are dropped (counted in the summary).
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub frag_memory: usize,

    /// Seconds without packets after which a connection ends (packet time).
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    pub flow_timeout: f64,

    /// Seconds after which a long connection is written and a new one starts.
    #[arg(long, value_name = "SECONDS", default_value_t = 1800.0)]
    pub flow_active_timeout: f64,

    /// Memory for open connections, MiB. Caps them at this divided by an
    /// upper estimate of one connection's memory (1.7 kB with the default
    /// --first-packets: 312 134 connections for 512 MiB); past the cap the
    /// least recently active are written early with end reason "evicted".
    /// Each layer-flow table (LinkFlow, NetworkFlow, TransportFlow) is capped
    /// at a quarter of that number (0: no limit).
    #[arg(long, value_name = "MIB", default_value_t = FlowConfig::DEFAULT_MEMORY_MIB)]
    pub flow_memory: u64,

    /// Most connections held open, and most flows of each of LinkFlow,
    /// NetworkFlow and TransportFlow, instead of the caps derived from
    /// --flow-memory (0: no limit).
    #[arg(long, value_name = "N")]
    pub max_flows: Option<u64>,

    /// Packets kept in the first-packets sequences of Connection records.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub first_packets: usize,

    /// Do not reassemble TCP streams: no HTTP, TLSClientHello,
    /// TLSServerHello, X509Certificate or Anomaly records, DNS over TCP only
    /// from segments holding whole messages (streams also need connection
    /// tracking: --no-flows turns them off too).
    #[arg(long)]
    pub no_streams: bool,

    /// Memory for out-of-order TCP segments of all connections together,
    /// MiB (0: no limit); past it, holes are given up as gaps and segments
    /// dropped (counted in the summary). Each worker gets an equal share.
    #[arg(long, value_name = "MIB", default_value_t = netcap_pipeline::StreamConfig::DEFAULT_MEMORY_MIB)]
    pub stream_memory: u64,

    /// Bytes per direction of a TCP connection given to the stream parsers,
    /// MiB (0: no limit); later bytes are only counted, like Suricata's
    /// reassembly depth.
    #[arg(long, value_name = "MIB", default_value_t = netcap_pipeline::StreamConfig::DEFAULT_DEPTH_MIB)]
    pub stream_depth: u64,

    /// Which bytes win when out-of-order TCP segments overlap with different
    /// data: the first seen (Zeek, the original Netcap) or the last.
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = Overlap::First)]
    pub overlap_policy: Overlap,

    /// Serve Prometheus metrics at http://ADDR/metrics while capturing
    /// (e.g. 127.0.0.1:9572; port 0: any free port, printed on stderr).
    /// Meant for live and long captures: the server stops when the capture
    /// ends (see --metrics-linger).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,

    /// With --metrics: keep serving the final values this many seconds
    /// after the capture ended, so that a last scrape sees them.
    #[arg(long, value_name = "SECS", default_value_t = 0.0, requires = "metrics")]
    pub metrics_linger: f64,

    /// Extract the files the streams carry (HTTP bodies, mail parts; see
    /// the File records) into DIR, each once, named by its SHA-256; the
    /// File record's Location gives the path. Off by default. With `agent`
    /// the files are written on the sensor, into its local DIR: only the
    /// File records (with Location) go to NATS.
    #[arg(long, value_name = "DIR")]
    pub files: Option<PathBuf>,

    /// With --files: largest file extracted, MiB (larger ones get
    /// ExtractedCutoff in their record). Files are held in memory until
    /// complete, so this also bounds the memory per file in flight.
    #[arg(long, value_name = "MIB", default_value_t = 64, requires = "files")]
    pub files_max: u64,

    /// With --files: bytes written in all, MiB (0: no limit). Once reached,
    /// files are no longer written (counted in the summary); which ones
    /// still were then depends on timing.
    #[arg(long, value_name = "MIB", default_value_t = 4096, requires = "files")]
    pub files_total: u64,
}

/// Overlap policy of TCP reassembly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Overlap {
    /// keep the bytes seen first
    First,
    /// keep the bytes seen last (bytes already parsed are never replaced)
    Last,
}

/// The format of the files written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// TYPE.ncap.gz (or .ncap.zst, .ncap with --compression): protobuf records
    Ncap,
    /// TYPE.csv, as `netcap dump` prints it
    Csv,
    /// TYPE.json, one object per line, as `netcap dump --json`
    Json,
    /// TYPE.parquet: columns for DuckDB, pandas, Spark (zstd)
    Parquet,
}

impl Format {
    /// The pipeline's output format.
    pub fn output(self) -> OutputFormat {
        match self {
            Format::Ncap => OutputFormat::Ncap,
            Format::Csv => OutputFormat::Csv,
            Format::Json => OutputFormat::Json,
            Format::Parquet => OutputFormat::Parquet,
        }
    }
}

/// How `netcap capture` compresses record files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Compression {
    /// TYPE.ncap.gz, readable by any gzip tool and library
    Gzip,
    /// TYPE.ncap.zst, Zstandard: smaller than gzip for the same time
    Zstd,
    /// TYPE.ncap, uncompressed
    None,
}

impl Compression {
    /// The record file codec.
    pub fn codec(self) -> Codec {
        match self {
            Compression::Gzip => Codec::Gzip,
            Compression::Zstd => Codec::Zstd,
            Compression::None => Codec::None,
        }
    }
}

impl CaptureArgs {
    /// The output format, from --format, --csv and --json.
    pub fn output_format(&self) -> OutputFormat {
        if self.csv {
            OutputFormat::Csv
        } else if self.json {
            OutputFormat::Json
        } else {
            self.format.output()
        }
    }

    /// The codec of the record files, from --compression and --no-compress.
    pub fn codec(&self) -> Codec {
        match (self.no_compress, self.compression) {
            (true, _) | (false, Compression::None) => Codec::None,
            (false, Compression::Gzip) => Codec::Gzip,
            (false, Compression::Zstd) => Codec::Zstd,
        }
    }
}

/// Print the records of a Netcap file.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    netcap dump -r out/TCP.ncap.gz                                   # CSV with a header line\n  \
    netcap dump -r out/TCP.ncap.gz --select Timestamp,SrcPort,DstPort --tsv\n  \
    netcap dump -r out/DNS.ncap.gz --json | jq .\n  \
    netcap dump -r out/IPv4.ncap.gz --table --utc\n  \
    netcap dump -r out/TCP.ncap.gz --fields\n\n\
    Timestamps are shown as seconds.microseconds since the epoch, or RFC 3339 with --utc.\n\
    Nested fields show as (Name=value ...) and repeated ones as [a,b] in CSV and tables,\n\
    as objects and arrays in JSON; bytes are lowercase hex.")]
pub struct DumpArgs {
    /// Record file to read (.ncap, .ncap.gz or .ncap.zst; compression is detected from the content).
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub input: PathBuf,

    /// List the fields of the file's record type and exit.
    #[arg(long)]
    pub fields: bool,

    /// Print the file header (record type, Netcap version, input source, creation time) and exit.
    #[arg(long)]
    pub header: bool,

    /// Comma-separated fields to show, in this order.
    #[arg(short, long, value_name = "FIELDS", value_delimiter = ',')]
    pub select: Vec<String>,

    /// Tab-separated values.
    #[arg(long, conflicts_with_all = ["sep", "table", "json", "struct"])]
    pub tsv: bool,

    /// Field separator for CSV output (one character).
    #[arg(long, value_name = "CHAR", default_value = ",")]
    pub sep: String,

    /// Aligned columns for reading in a terminal.
    #[arg(long, conflicts_with_all = ["json", "struct"])]
    pub table: bool,

    /// One JSON object per line.
    #[arg(long, conflicts_with = "struct")]
    pub json: bool,

    /// Readable multi-line blocks, one per record.
    #[arg(long = "struct")]
    pub r#struct: bool,

    /// Show timestamps as RFC 3339 in UTC.
    #[arg(long)]
    pub utc: bool,
}

/// Convert record files to another format.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    netcap convert -r out/TCP.ncap.gz -o parquet/                 # parquet/TCP.parquet\n  \
    netcap convert -r out/ -o parquet/                            # every record file of out/\n  \
    netcap convert -r out/ -o csv/ --format csv\n\n\
    The file header (record type, Netcap version, input source, creation time) goes\n\
    into the Parquet key-value metadata (netcap.type, netcap.version, ...).\n\
    Records read before a damaged part of a file are converted, then the damage is\n\
    reported as an error.")]
pub struct ConvertArgs {
    /// A record file (.ncap, .ncap.gz, .ncap.zst), or a folder: every record file in it.
    #[arg(short = 'r', long = "read", value_name = "FILE|DIR")]
    pub input: PathBuf,

    /// Folder for the converted files (created if missing).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: PathBuf,

    /// Format of the converted files.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = ConvertFormat::Parquet)]
    pub format: ConvertFormat,

    /// Parquet: zstd level of the columns, 1 to 22 (default 1).
    #[arg(long, value_name = "LEVEL")]
    pub compression_level: Option<i32>,

    /// Files converted at once [default: number of cores].
    #[arg(short = 'w', long, value_name = "N")]
    pub workers: Option<usize>,

    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

/// The formats `netcap convert` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConvertFormat {
    /// TYPE.parquet
    Parquet,
    /// TYPE.csv, as `netcap dump` prints it
    Csv,
    /// TYPE.json, one object per line, as `netcap dump --json`
    Json,
}

impl ConvertFormat {
    /// The writer's output format.
    pub fn output(self) -> OutputFormat {
        match self {
            ConvertFormat::Parquet => OutputFormat::Parquet,
            ConvertFormat::Csv => OutputFormat::Csv,
            ConvertFormat::Json => OutputFormat::Json,
        }
    }
}

#[cfg(feature = "nats")]
/// How to reach NATS: servers, TLS and credentials, and the stream. Secrets
/// are read from files or the environment, never from arguments.
#[derive(Debug, Args)]
pub struct NatsArgs {
    /// NATS server URL(s), comma-separated for a cluster
    /// (nats://host:4222, tls://host:4222).
    #[arg(long, value_name = "URL")]
    pub nats: String,

    /// CA certificate(s) (PEM) that sign the servers' certificates; turns TLS on.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,

    /// Client certificate (PEM) for mutual TLS (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// Client key (PEM) for mutual TLS (with --tls-cert).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Require TLS (verified with the system's roots unless --tls-ca is given).
    #[arg(long)]
    pub tls: bool,

    /// NATS credentials file (user JWT and NKey seed, as written by `nsc`).
    /// Other credentials: --nkey, or a user and password in the environment
    /// variables NETCAP_NATS_USER and NETCAP_NATS_PASSWORD (never in
    /// arguments: other users can read them).
    #[arg(long, value_name = "FILE", conflicts_with = "nkey")]
    pub creds: Option<PathBuf>,

    /// File holding the user's NKey seed (SU...).
    #[arg(long, value_name = "FILE")]
    pub nkey: Option<PathBuf>,

    /// JetStream stream holding the batches (created if missing and allowed).
    #[arg(long, value_name = "NAME", default_value = "NETCAP")]
    pub stream: String,

    /// Stream limit: batches older than this many hours are deleted (0: no limit).
    #[arg(long, value_name = "HOURS", default_value_t = 168.0)]
    pub stream_max_age: f64,

    /// Stream limit: past this many MiB the oldest batches are deleted (0: no
    /// limit). Without it, 10240, lowered (with a warning) to what the server
    /// can reserve when its max_file_store, the account's limit or its disk
    /// is smaller; a value given here is kept or refused.
    #[arg(long, value_name = "MIB")]
    pub stream_max_bytes: Option<u64>,

    /// Copies of each batch in a NATS cluster (1, 3 or 5).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub replicas: usize,
}

#[cfg(feature = "nats")]
/// Capture like `netcap capture` and publish the records to NATS JetStream.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    sudo netcap agent -i eth0 --nats nats://collector:4222 --sensor dmz-1 --spool /var/spool/netcap\n  \
    netcap agent -r traffic.pcap --nats nats://127.0.0.1:4222 --sensor backfill-1\n\n\
    Records go to the subjects netcap.<sensor>.<Type> in zstd-compressed batches\n\
    (see docs/sensors.md). A batch counts as sent once JetStream acknowledged it; while\n\
    NATS is unreachable batches are spooled (--spool DIR, else in memory) up to\n\
    --spool-max and resent in order. Credentials: --creds or --nkey files, or the\n\
    environment variables NETCAP_NATS_USER and NETCAP_NATS_PASSWORD.\n\n\
    Exit status: 0 when every batch was sent (or is kept in --spool DIR for the next\n\
    run), 1 on an error or when records were lost (spool full, memory spool unsent), 2 on\n\
    a usage error, 130 when the reading of a file was interrupted.")]
pub struct AgentArgs {
    #[command(flatten)]
    pub pipe: PipelineArgs,

    #[command(flatten)]
    pub nats: NatsArgs,

    /// Sensor name: letters, digits, '-' and '_' (the subject token and the
    /// collector's folder).
    #[arg(long, value_name = "NAME")]
    pub sensor: String,

    /// Folder for batches not yet acknowledged (kept across restarts);
    /// without it they wait in memory.
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,

    /// Most MiB of batches spooled (fractions allowed); past it new batches
    /// are dropped and counted.
    #[arg(long, value_name = "MIB", default_value_t = 256.0)]
    pub spool_max: f64,

    /// Uncompressed KiB of records per batch.
    #[arg(long, value_name = "KIB", default_value_t = 256)]
    pub batch_size: usize,

    /// Seconds after which a type's records are sent even if its batch is not full.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub flush_interval: f64,

    /// Seconds to wait for JetStream's acknowledgement of a batch.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub ack_timeout: f64,

    /// At the end (end of file, Ctrl-C), seconds to wait for the last
    /// acknowledgements and for the spool to drain.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub finish_timeout: f64,

    /// Print no progress and no summary.
    #[arg(short, long)]
    pub quiet: bool,
}

#[cfg(feature = "nats")]
/// Receive the sensors' records from NATS JetStream into record files.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    netcap collect --nats nats://127.0.0.1:4222 -o /srv/netcap\n  \
    netcap collect --nats nats://127.0.0.1:4222 -o /srv/netcap --rotate 1h\n\n\
    Writes DIR/<sensor>/<Type>.ncap.gz (header input source: the sensor). A batch is\n\
    acknowledged only once it is written and flushed to disk; a restarted collector\n\
    neither loses nor duplicates batches (state in DIR/<sensor>/.netcap-collect.json).\n\
    Collectors started with the same --durable share the work (each with its own DIR).\n\
    Runs until Ctrl-C or SIGTERM (or --idle-exit).")]
pub struct CollectArgs {
    #[command(flatten)]
    pub nats: NatsArgs,

    /// Root folder: one folder per sensor.
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: PathBuf,

    /// Durable consumer name; collectors with the same name share the batches.
    #[arg(long, value_name = "NAME", default_value = "netcap-collector")]
    pub durable: String,

    /// Close a file and begin a new one past a size (100M, 1G) or an age
    /// (30m, 1h, 1d); closed files are named <Type>.<unix-time-begun>.ncap.gz.
    #[arg(long, value_name = "SIZE|TIME")]
    pub rotate: Option<String>,

    /// Stop after this many seconds without a batch.
    #[arg(long, value_name = "SECONDS")]
    pub idle_exit: Option<f64>,

    /// Seconds JetStream waits for an acknowledgement before redelivering.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub ack_wait: f64,

    /// Batches fetched, written and flushed to disk at once (more: fewer
    /// disk flushes; fewer: less redelivered after a crash).
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..))]
    pub fetch: u16,

    /// gzip level of the record files (0-9).
    #[arg(long, value_name = "LEVEL", default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=9))]
    pub compression_level: u32,

    /// Print no summary.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Label records for supervised learning.
#[derive(Debug, Args)]
#[command(
    group(clap::ArgGroup::new("source").required(true).multiple(true).args(["alerts", "ground_truth"])),
    after_help = "Examples:\n  \
    netcap label -r out/ -o labelled/ --alerts eve.json\n  \
    netcap label -r out/ -o labelled/ --ground-truth attacks.csv --format parquet\n  \
    netcap label -r out/HTTP.ncap.gz -o labelled/ --alerts eve.json --format csv\n  \
    netcap dump -r labelled/Connection.ncap.gz --select UID,SrcIP,DstIP,Label,Category,Signature\n\n\
    Attacks are matched to Connection records: an alert by its 5-tuple (either direction)\n\
    and its time, within the connection's first..last packet time widened by --tolerance\n\
    (the nearest connection wins when several fit); a ground-truth row by its time range\n\
    and its addresses or networks (either direction), ports and protocol when given: it\n\
    labels every connection it matches. A connection's label then goes to every record\n\
    of it: Flow, HTTP, TLS, DNS over TCP and others by ConnectionUID, per-packet records\n\
    (Ethernet, IPv4, TCP, DNS over UDP, ...) by their packet, and the LinkFlow,\n\
    NetworkFlow and TransportFlow sharing its MACs, addresses or ports while it was open.\n\n\
    Every record gets Label (\"attack\" or \"normal\"), Category (the alert's category, the\n\
    row's label) and Signature (the alert's signature, the row's signature column).\n\
    When several attacks label one connection, ground truth wins, then the highest\n\
    Suricata severity (1), then the earliest; the others are counted as conflicting\n\
    when their category or signature differs.\n\n\
    eve.json: only event_type \"alert\" lines are used (timestamp, src_ip, src_port,\n\
    dest_ip, dest_port, proto, alert.signature, alert.category, alert.severity).\n\
    Ground truth: CSV with a header line (comma, semicolon or tab): start, end, src, dst,\n\
    label, and optionally src_port, dst_port, proto, signature. CIC-IDS and UNSW-NB15\n\
    column names are recognised. Times: RFC 3339 (2017-07-05T11:43:43.048Z, +02:00,\n\
    +0200), 'YYYY-MM-DD hh:mm[:ss]' or epoch seconds. Details: docs/labelling.md.")]
pub struct LabelArgs {
    /// Output folder of `netcap capture` (every record file in it is labelled),
    /// or one record file in such a folder. The folder must hold the Connection
    /// records; its IPv4, IPv6, TCP, UDP and SCTP records tell which packets
    /// belong to a labelled connection.
    #[arg(short = 'r', long = "read", value_name = "DIR|FILE")]
    pub input: PathBuf,

    /// Folder for the labelled files (created if missing; not the input folder).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: PathBuf,

    /// Suricata EVE JSON file (eve.json): its alerts label the records.
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<PathBuf>,

    /// Ground-truth CSV file of attacks (start, end, src, dst, label, ...).
    #[arg(long, value_name = "FILE")]
    pub ground_truth: Option<PathBuf>,

    /// Format of the files written (the same record types, with the Label,
    /// Category and Signature columns).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Ncap)]
    pub format: Format,

    /// Compression of record files (--format ncap).
    #[arg(long, value_name = "CODEC", value_enum, default_value_t = Compression::Gzip)]
    pub compression: Compression,

    /// Seconds an alert may lie before a connection's first packet or after
    /// its last one and still match it (timestamps are rounded to the
    /// microsecond in eve.json, and Suricata's flows may outlive Netcap's
    /// connection by a late packet).
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub tolerance: f64,

    /// UTC offset of timestamps that carry none (ground-truth files often
    /// give local times: CIC-IDS2017's are -03:00).
    #[arg(
        long,
        value_name = "OFFSET",
        default_value = "+00:00",
        allow_hyphen_values = true
    )]
    pub tz_offset: String,

    /// Label of records that belong to an attack.
    #[arg(long, value_name = "TEXT", default_value = "attack")]
    pub attack_label: String,

    /// Label of every other record (the original Netcap's "normal"; CIC-IDS
    /// uses "BENIGN").
    #[arg(long, value_name = "TEXT", default_value = "normal")]
    pub normal_label: String,

    /// Files written at once [default: number of cores].
    #[arg(short = 'w', long, value_name = "N")]
    pub workers: Option<usize>,

    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}
