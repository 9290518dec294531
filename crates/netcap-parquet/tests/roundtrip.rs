//! Records written to Parquet and read back with the parquet crate's own
//! Arrow reader: values, types, nulls, lists, enums, row groups, and the
//! independence of the bytes from how the records were handed over.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, Int32Type, Int64Type, TimestampNanosecondType, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use netcap_parquet::{meta, ParquetFileWriter, ParquetOptions};
use netcap_schema::{
    Dns, DnsQuestion, DnsResourceRecord, Dnssoa, Header, IPv6, IPv6HopByHop, IPv6Option, Tcp,
    TcpOption, Type,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::{FileReader, SerializedFileReader};
use prost::Message;

fn header(ty: Type) -> Header {
    Header {
        created: 1_700_000_000_000_000_000,
        input_source: "in.pcap".into(),
        r#type: ty as i32,
        version: "v0.1.0".into(),
        contains_payloads: false,
    }
}

fn delimited<M: Message>(records: &[M]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        r.encode_length_delimited(&mut out).unwrap();
    }
    out
}

/// Writes `records` in one call.
fn write<M: Message>(dir: &Path, ty: Type, records: &[M], opts: &ParquetOptions) -> Vec<u8> {
    let mut w = ParquetFileWriter::create(dir, &header(ty), opts).unwrap();
    w.write_encoded(&delimited(records), records.len() as u64)
        .unwrap();
    assert_eq!(w.records(), records.len() as u64);
    let path = w.finish().unwrap();
    std::fs::read(path).unwrap()
}

fn read(path: &Path) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn tcp(i: u32) -> Tcp {
    Tcp {
        timestamp: 1_499_255_023_048_884_123 + i64::from(i),
        src_port: 443,
        dst_port: 50_000 + i as i32,
        seq_num: u32::MAX - i,
        syn: i.is_multiple_of(2),
        padding: if i.is_multiple_of(3) {
            vec![]
        } else {
            vec![0, 0xab]
        },
        options: (0..i % 3)
            .map(|k| TcpOption {
                option_type: k as i32 + 1,
                option_length: 4,
                option_data: vec![k as u8; k as usize],
            })
            .collect(),
        payload_entropy: f64::from(i) / 8.0,
        packet_number: u64::from(i) + 1,
        ..Default::default()
    }
}

#[test]
fn tcp_scalars_bytes_and_repeated_messages() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<Tcp> = (0..10).map(tcp).collect();
    write(
        dir.path(),
        Type::NcTcp,
        &records,
        &ParquetOptions::default(),
    );
    let batches = read(&dir.path().join("TCP.parquet"));
    assert_eq!(batches.len(), 1);
    let b = &batches[0];
    assert_eq!(b.num_rows(), 10);
    let col = |n: &str| b.column_by_name(n).unwrap().clone();

    let ts = col("Timestamp");
    assert_eq!(
        ts.data_type(),
        &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
    );
    let ts = ts.as_primitive::<TimestampNanosecondType>();
    let ports = col("DstPort");
    let ports = ports.as_primitive::<Int32Type>();
    let seq = col("SeqNum");
    let seq = seq.as_primitive::<UInt32Type>();
    let syn = col("SYN");
    let syn = syn.as_boolean();
    let pad = col("Padding");
    let pad = pad.as_binary::<i32>();
    let ent = col("PayloadEntropy");
    let ent = ent.as_primitive::<Float64Type>();
    let num = col("PacketNumber");
    let num = num.as_primitive::<UInt64Type>();
    let opts = col("Options");
    let opts = opts.as_list::<i32>();
    for (i, r) in records.iter().enumerate() {
        assert_eq!(ts.value(i), r.timestamp);
        assert_eq!(ports.value(i), r.dst_port);
        assert_eq!(seq.value(i), r.seq_num);
        assert_eq!(syn.value(i), r.syn);
        assert_eq!(pad.value(i), r.padding.as_slice());
        assert_eq!(ent.value(i), r.payload_entropy);
        assert_eq!(num.value(i), r.packet_number);
        let o = opts.value(i);
        let o = o.as_struct();
        assert_eq!(o.len(), r.options.len(), "row {i}");
        for (k, want) in r.options.iter().enumerate() {
            let ty = o.column_by_name("OptionType").unwrap();
            assert_eq!(ty.as_primitive::<Int32Type>().value(k), want.option_type);
            let data = o.column_by_name("OptionData").unwrap();
            assert_eq!(
                data.as_binary::<i32>().value(k),
                want.option_data.as_slice()
            );
        }
        assert!(!opts.is_null(i));
    }
}

#[test]
fn unset_messages_are_null_and_set_ones_keep_nested_lists_and_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let with = IPv6 {
        timestamp: 5,
        hop_by_hop: Some(IPv6HopByHop {
            timestamp: 1_000_000_007,
            options: vec![
                IPv6Option {
                    option_type: 5,
                    option_length: 2,
                    option_data: vec![0, 0],
                },
                IPv6Option {
                    option_type: 1,
                    option_length: 0,
                    option_data: vec![],
                },
            ],
            packet_number: 9,
            ..Default::default()
        }),
        ..Default::default()
    };
    let records = vec![IPv6::default(), with, IPv6::default()];
    write(
        dir.path(),
        Type::NcIPv6,
        &records,
        &ParquetOptions::default(),
    );
    let b = &read(&dir.path().join("IPv6.parquet"))[0];
    let hbh = b.column_by_name("HopByHop").unwrap().as_struct();
    assert!(hbh.is_null(0));
    assert!(hbh.is_valid(1));
    assert!(hbh.is_null(2));
    let ts = hbh.column_by_name("Timestamp").unwrap();
    assert_eq!(
        ts.as_primitive::<TimestampNanosecondType>().value(1),
        1_000_000_007
    );
    let opts = hbh.column_by_name("Options").unwrap().as_list::<i32>();
    assert_eq!(opts.value_length(0), 0);
    assert_eq!(opts.value_length(1), 2);
    let o = opts.value(1);
    let ty = o.as_struct().column_by_name("OptionType").unwrap();
    assert_eq!(ty.as_primitive::<Int32Type>().values(), &[5, 1]);
}

#[test]
fn repeated_strings_inside_repeated_messages() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dns {
        id: 7,
        qr: true,
        questions: vec![DnsQuestion {
            name: "example.com".into(),
            r#type: 16,
            class: 1,
        }],
        answers: vec![
            DnsResourceRecord {
                name: "example.com".into(),
                tx_ts: vec!["a".into(), "".into(), "ccc".into()],
                ..Default::default()
            },
            DnsResourceRecord {
                name: "example.com".into(),
                soa: Some(Dnssoa {
                    m_name: "ns".into(),
                    serial: 42,
                    ..Default::default()
                }),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    write(
        dir.path(),
        Type::NcDns,
        &[d, Dns::default()],
        &ParquetOptions::default(),
    );
    let b = &read(&dir.path().join("DNS.parquet"))[0];
    let answers = b.column_by_name("Answers").unwrap().as_list::<i32>();
    assert_eq!(answers.value_length(1), 0);
    let a = answers.value(0);
    let a = a.as_struct();
    let txts = a.column_by_name("TXTs").unwrap().as_list::<i32>();
    let t0 = txts.value(0);
    let t0: Vec<&str> = t0.as_string::<i32>().iter().map(Option::unwrap).collect();
    assert_eq!(t0, ["a", "", "ccc"]);
    assert_eq!(txts.value_length(1), 0);
    let soa = a.column_by_name("SOA").unwrap().as_struct();
    assert!(soa.is_null(0));
    assert!(soa.is_valid(1));
    let serial = soa.column_by_name("Serial").unwrap();
    assert_eq!(serial.as_primitive::<UInt32Type>().value(1), 42);
}

#[test]
fn enums_are_their_names() {
    // The only enum of the schema is the header's record type: write header
    // messages as records of the Header "type" to check the mapping.
    let dir = tempfile::tempdir().unwrap();
    let mut unknown = header(Type::NcTcp);
    unknown.r#type = 9999;
    write(
        dir.path(),
        Type::NcHeader,
        &[header(Type::NcTcp), header(Type::NcIPv4), unknown],
        &ParquetOptions::default(),
    );
    let b = &read(&dir.path().join("Header.parquet"))[0];
    let ty = b.column_by_name("Type").unwrap().as_string::<i32>();
    assert_eq!(ty.value(0), "NC_TCP");
    assert_eq!(ty.value(1), "NC_IPv4");
    assert_eq!(ty.value(2), "9999");
    let created = b.column_by_name("Created").unwrap();
    assert_eq!(
        created.as_primitive::<Int64Type>().value(0),
        1_700_000_000_000_000_000
    );
}

#[test]
fn row_groups_are_bounded_and_metadata_holds_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<Tcp> = (0..1000).map(tcp).collect();
    let opts = ParquetOptions {
        batch_rows: 64,
        row_group_rows: 300,
        ..ParquetOptions::default()
    };
    write(dir.path(), Type::NcTcp, &records, &opts);
    let path = dir.path().join("TCP.parquet");
    let r = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
    let md = r.metadata();
    let rows: Vec<i64> = md.row_groups().iter().map(|g| g.num_rows()).collect();
    assert_eq!(rows, [300, 300, 300, 100]);
    let fmd = md.file_metadata();
    assert_eq!(fmd.created_by(), Some(netcap_parquet::CREATED_BY));
    let kv = fmd.key_value_metadata().unwrap();
    let get = |k: &str| {
        kv.iter()
            .find(|e| e.key == k)
            .and_then(|e| e.value.clone())
            .unwrap()
    };
    assert_eq!(get(meta::TYPE), "TCP");
    assert_eq!(get(meta::VERSION), "v0.1.0");
    assert_eq!(get(meta::INPUT_SOURCE), "in.pcap");
    assert_eq!(get(meta::CREATED), "1700000000000000000");
    // zstd everywhere.
    for g in md.row_groups() {
        for c in g.columns() {
            assert!(
                matches!(c.compression(), parquet::basic::Compression::ZSTD(_)),
                "{:?}",
                c.column_path()
            );
        }
    }
    let total: usize = read(&path).iter().map(RecordBatch::num_rows).sum();
    assert_eq!(total, 1000);
}

#[test]
fn bytes_do_not_depend_on_how_records_are_handed_over() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<Tcp> = (0..5000).map(tcp).collect();
    let opts = ParquetOptions {
        batch_rows: 700,
        row_group_rows: 2000,
        ..ParquetOptions::default()
    };
    let whole = write(dir.path(), Type::NcTcp, &records, &opts);
    for step in [1, 7, 999] {
        let mut w = ParquetFileWriter::create(dir.path(), &header(Type::NcTcp), &opts).unwrap();
        for part in records.chunks(step) {
            w.write_encoded(&delimited(part), part.len() as u64)
                .unwrap();
        }
        let got = std::fs::read(w.finish().unwrap()).unwrap();
        assert!(got == whole, "handed over {step} at a time");
    }
}

#[test]
fn damaged_records_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut w =
        ParquetFileWriter::create(dir.path(), &header(Type::NcTcp), &ParquetOptions::default())
            .unwrap();
    // A length prefix longer than the bytes that follow.
    w.write_encoded(&[10, 1, 2], 1).unwrap();
    let e = w.finish().unwrap_err();
    assert!(e.to_string().contains("shorter than its length"), "{e}");
    // A zstd level out of range.
    let bad = ParquetOptions {
        zstd_level: 23,
        ..ParquetOptions::default()
    };
    assert!(ParquetFileWriter::create(dir.path(), &header(Type::NcTcp), &bad).is_err());
}

#[test]
fn numbers_and_timestamps_keep_statistics_strings_and_bytes_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<Tcp> = (0..10).map(tcp).collect();
    write(
        dir.path(),
        Type::NcTcp,
        &records,
        &ParquetOptions::default(),
    );
    let reader =
        SerializedFileReader::new(File::open(dir.path().join("TCP.parquet")).unwrap()).unwrap();
    let rg = reader.metadata().row_group(0);
    let stats = |name: &str| {
        let c = rg
            .columns()
            .iter()
            .find(|c| c.column_path().parts().last().is_some_and(|p| p == name))
            .unwrap_or_else(|| panic!("no column {name}"));
        c.statistics().cloned()
    };
    // Numbers: min/max as written (row-group pruning in DuckDB and Spark).
    let ts = stats("Timestamp").expect("Timestamp statistics");
    assert_eq!(
        ts.min_bytes_opt().unwrap(),
        records[0].timestamp.to_le_bytes()
    );
    assert_eq!(
        ts.max_bytes_opt().unwrap(),
        records[9].timestamp.to_le_bytes()
    );
    assert!(stats("DstPort").is_some());
    // Bytes and strings: none (a comparison per value, no pruning).
    assert!(stats("Padding").is_none());
    assert!(stats("OptionData").is_none());
}
