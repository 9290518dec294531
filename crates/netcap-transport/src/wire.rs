//! The message format on NATS: subject, headers and payload of one batch.
//!
//! ```text
//! subject  netcap.<sensor>.<Type>                 e.g. netcap.dmz-1.TCP
//! headers  Nats-Msg-Id     <sensor>-<seq>         JetStream de-duplication
//!          Netcap-Sensor   <sensor>
//!          Netcap-Type     <Type>                 record name, as in `netcap types`
//!          Netcap-Version  v0.1.0                 the agent's Netcap version
//!          Netcap-Seq      <seq>                  per sensor, increasing
//!          Netcap-Records  <count>                records in the batch
//!          Netcap-Size     <bytes>                size of the batch uncompressed
//!          Netcap-Created  <ns>                   agent start, ns since the epoch
//!          Netcap-Source   <input>                the agent's interface or file
//! payload  zstd( varint(len) record varint(len) record ... )
//! ```
//!
//! The uncompressed payload is exactly a piece of a record file body (after
//! its `Header` frame): length-delimited protobuf records of one type.

use std::io::Read;

use async_nats::HeaderMap;
use netcap_format::MAX_RECORD_LEN;
use netcap_schema::Type;

/// First token of every subject.
pub const SUBJECT_PREFIX: &str = "netcap";
/// JetStream de-duplication header.
pub const HDR_MSG_ID: &str = "Nats-Msg-Id";
/// Sensor name header.
pub const HDR_SENSOR: &str = "Netcap-Sensor";
/// Record type header (record name).
pub const HDR_TYPE: &str = "Netcap-Type";
/// Netcap version header.
pub const HDR_VERSION: &str = "Netcap-Version";
/// Per-sensor sequence number header.
pub const HDR_SEQ: &str = "Netcap-Seq";
/// Record count header.
pub const HDR_RECORDS: &str = "Netcap-Records";
/// Uncompressed size header.
pub const HDR_SIZE: &str = "Netcap-Size";
/// Agent start time header.
pub const HDR_CREATED: &str = "Netcap-Created";
/// Capture input header.
pub const HDR_SOURCE: &str = "Netcap-Source";

/// The Netcap version written into the headers (as in record file headers).
pub const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// Largest uncompressed batch a collector accepts: one record at its largest
/// plus slack. Agents cut batches far smaller (see `AgentConfig::batch_bytes`).
pub const MAX_BATCH_SIZE: u64 = MAX_RECORD_LEN as u64 + (1 << 20);

/// Why a message is not a valid batch.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The sensor name cannot be a subject token.
    #[error("invalid sensor name {0:?}: use 1 to 64 letters, digits, '-' or '_'")]
    SensorName(String),
    /// A header is missing or not what it should be.
    #[error("header {name}: {problem}")]
    Header {
        /// The header.
        name: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The subject does not match the headers.
    #[error("subject {subject:?} does not match sensor {sensor:?} and type {ty}")]
    Subject {
        /// The subject.
        subject: String,
        /// The sensor header.
        sensor: String,
        /// The type header.
        ty: String,
    },
    /// The payload does not decompress to the announced records.
    #[error("payload: {0}")]
    Payload(String),
}

/// Checks that `name` can be a sensor name: one subject token of letters,
/// digits, `-` and `_` (no `.`, `*`, `>` or spaces, which NATS gives meaning).
pub fn check_sensor(name: &str) -> Result<(), WireError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(WireError::SensorName(name.to_string()))
    }
}

/// The subject of a sensor's batches of one record type.
pub fn subject(sensor: &str, ty: Type) -> String {
    format!("{SUBJECT_PREFIX}.{sensor}.{}", ty.record_name())
}

/// What the headers of a batch say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchMeta {
    /// The sensor that sent it.
    pub sensor: String,
    /// Record type of every record in it.
    pub ty: Type,
    /// Per-sensor sequence number.
    pub seq: u64,
    /// Records in the batch.
    pub records: u64,
    /// Uncompressed size in bytes.
    pub size: u64,
    /// Agent start time, ns since the epoch (the `created` of collected files).
    pub created_ns: i64,
    /// The agent's capture input (interface or file).
    pub source: String,
}

impl BatchMeta {
    /// The message ID that makes republishing idempotent.
    pub fn msg_id(&self) -> String {
        format!("{}-{}", self.sensor, self.seq)
    }

    /// The NATS headers of the batch.
    pub fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HDR_MSG_ID, self.msg_id().as_str());
        h.insert(HDR_SENSOR, self.sensor.as_str());
        h.insert(HDR_TYPE, self.ty.record_name());
        h.insert(HDR_VERSION, VERSION);
        h.insert(HDR_SEQ, self.seq.to_string().as_str());
        h.insert(HDR_RECORDS, self.records.to_string().as_str());
        h.insert(HDR_SIZE, self.size.to_string().as_str());
        h.insert(HDR_CREATED, self.created_ns.to_string().as_str());
        // Header values are one line of text.
        let source: String = self
            .source
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        h.insert(HDR_SOURCE, source.as_str());
        h
    }

    /// Reads and checks the headers of a message received on `subject`.
    pub fn from_headers(subject: &str, h: Option<&HeaderMap>) -> Result<Self, WireError> {
        let get = |name: &'static str| -> Result<String, WireError> {
            h.and_then(|h| h.get(name))
                .map(|v| v.as_str().to_string())
                .ok_or(WireError::Header {
                    name,
                    problem: "missing".into(),
                })
        };
        let num = |name: &'static str| -> Result<u64, WireError> {
            get(name)?.trim().parse().map_err(|_| WireError::Header {
                name,
                problem: "not a number".into(),
            })
        };
        let sensor = get(HDR_SENSOR)?;
        check_sensor(&sensor).map_err(|e| WireError::Header {
            name: HDR_SENSOR,
            problem: e.to_string(),
        })?;
        let type_name = get(HDR_TYPE)?;
        let ty = Type::from_record_name(&type_name)
            .filter(|t| *t != Type::NcHeader)
            .ok_or_else(|| WireError::Header {
                name: HDR_TYPE,
                problem: format!("unknown record type {type_name:?}"),
            })?;
        if subject != self::subject(&sensor, ty) {
            return Err(WireError::Subject {
                subject: subject.to_string(),
                sensor,
                ty: type_name,
            });
        }
        let size = num(HDR_SIZE)?;
        if size > MAX_BATCH_SIZE {
            return Err(WireError::Header {
                name: HDR_SIZE,
                problem: format!("{size} bytes is more than {MAX_BATCH_SIZE}"),
            });
        }
        Ok(BatchMeta {
            seq: num(HDR_SEQ)?,
            records: num(HDR_RECORDS)?,
            size,
            created_ns: i64::try_from(num(HDR_CREATED).unwrap_or(0)).unwrap_or(0),
            source: get(HDR_SOURCE).unwrap_or_default(),
            sensor,
            ty,
        })
    }
}

/// Compresses a batch body with zstd at `level`.
pub fn compress(body: &[u8], level: i32) -> Result<Vec<u8>, WireError> {
    zstd::bulk::compress(body, level).map_err(|e| WireError::Payload(e.to_string()))
}

/// Decompresses a payload announced as `meta.size` bytes holding
/// `meta.records` records, and checks both: a batch that says otherwise is
/// rejected whole rather than written in part.
pub fn decompress(payload: &[u8], meta: &BatchMeta) -> Result<Vec<u8>, WireError> {
    let mut decoder =
        zstd::stream::read::Decoder::new(payload).map_err(|e| WireError::Payload(e.to_string()))?;
    let mut body = Vec::with_capacity(usize::try_from(meta.size.min(1 << 24)).unwrap_or(0));
    // One byte more than announced tells a longer body from an exact one.
    (&mut decoder)
        .take(meta.size.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|e| WireError::Payload(format!("not zstd: {e}")))?;
    if body.len() as u64 != meta.size {
        return Err(WireError::Payload(format!(
            "{} bytes uncompressed, the header says {}",
            body.len(),
            meta.size
        )));
    }
    let n = count_frames(&body)?;
    if n != meta.records {
        return Err(WireError::Payload(format!(
            "{n} records, the header says {}",
            meta.records
        )));
    }
    Ok(body)
}

/// Counts the length-delimited frames of a body; errors if one is cut or
/// longer than a record may be.
pub fn count_frames(mut body: &[u8]) -> Result<u64, WireError> {
    let mut n = 0u64;
    while !body.is_empty() {
        let len = prost::encoding::decode_varint(&mut body)
            .map_err(|_| WireError::Payload(format!("bad length prefix of record {}", n + 1)))?;
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l <= MAX_RECORD_LEN && *l <= body.len())
            .ok_or_else(|| WireError::Payload(format!("record {} is cut or too long", n + 1)))?;
        body = body.get(len..).unwrap_or_default();
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> BatchMeta {
        BatchMeta {
            sensor: "dmz-1".into(),
            ty: Type::NcTcp,
            seq: 42,
            records: 2,
            size: 5,
            created_ns: 7,
            source: "eth0\nx".into(),
        }
    }

    #[test]
    fn sensor_names() {
        for good in ["a", "dmz-1", "IoT_7"] {
            assert!(check_sensor(good).is_ok(), "{good}");
        }
        let long = "x".repeat(65);
        for bad in ["", "a.b", "a*", ">", "a b", "é", long.as_str()] {
            assert!(check_sensor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_round_trip() {
        let m = meta();
        assert_eq!(subject(&m.sensor, m.ty), "netcap.dmz-1.TCP");
        let h = m.headers();
        assert_eq!(
            h.get(HDR_MSG_ID).map(|v| v.as_str().to_string()),
            Some("dmz-1-42".into())
        );
        let back = BatchMeta::from_headers("netcap.dmz-1.TCP", Some(&h)).unwrap();
        assert_eq!(back.source, "eth0 x");
        assert_eq!(
            BatchMeta {
                source: m.source.clone(),
                ..back
            },
            m
        );
        // Another sensor's subject, or none, is refused.
        assert!(BatchMeta::from_headers("netcap.other.TCP", Some(&h)).is_err());
        assert!(BatchMeta::from_headers("netcap.dmz-1.UDP", Some(&h)).is_err());
        assert!(BatchMeta::from_headers("netcap.dmz-1.TCP", None).is_err());
    }

    #[test]
    fn payload_checks() {
        // Two records: 2 bytes and 1 byte.
        let body = [2u8, 0xaa, 0xbb, 1, 0xcc];
        let mut m = meta();
        let z = compress(&body, 3).unwrap();
        assert_eq!(decompress(&z, &m).unwrap(), body);
        m.records = 3;
        assert!(decompress(&z, &m).is_err());
        m.records = 2;
        m.size = 4;
        assert!(decompress(&z, &m).is_err());
        m.size = 6;
        assert!(decompress(&z, &m).is_err());
        m.size = 5;
        assert!(decompress(b"not zstd", &m).is_err());
        assert!(count_frames(&[3, 1, 2]).is_err());
        assert!(count_frames(&[0x80]).is_err());
        assert_eq!(count_frames(&[]).unwrap(), 0);
    }
}
