#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;

fn conn(server: &str, port: i32, first: u64, syn_ack: bool, app: &str) -> Connection {
    Connection {
        transport_proto: "TCP".into(),
        dst_ip: server.into(),
        dst_port: port,
        src_ip: "10.0.0.1".into(),
        src_port: 40000 + first as i32,
        first_packet_number: first,
        timestamp_first: first as i64 * 1000,
        timestamp_last: first as i64 * 1000 + 500,
        uid: format!("C{first}"),
        num_syn_flags_server_to_client: i64::from(syn_ack),
        bytes_client_to_server: 100,
        bytes_server_to_client: 200,
        application_proto: app.into(),
        ..Connection::default()
    }
}

fn http(number: u64, client: &str, server: &str, ua: &str, srv: &str) -> StreamRecord {
    StreamRecord::Http(Box::new(netcap_schema::Http {
        packet_number: number,
        timestamp: number as i64,
        src_ip: client.into(),
        dst_ip: server.into(),
        dst_port: 80,
        user_agent: ua.into(),
        server: srv.into(),
        host: "example.org".into(),
        connection_uid: format!("C{number}"),
        ..Default::default()
    }))
}

fn sightings(recs: &[StreamRecord], conns: &[Connection]) -> Vec<Sighting> {
    let mut out = Vec::new();
    for r in recs {
        observe_stream(r, &mut out);
    }
    for c in conns {
        observe_connection(c, &mut out);
    }
    out
}

#[test]
fn software_is_written_once_per_host_and_string() {
    let mut d = Deriver::new(Limits::default());
    let ua = "curl/7.68.0";
    let mut s = sightings(
        &[
            http(5, "10.0.0.1", "10.0.0.9", ua, "nginx/1.18.0"),
            http(9, "10.0.0.1", "10.0.0.9", ua, "nginx/1.18.0"),
            http(12, "10.0.0.2", "10.0.0.9", ua, "nginx/1.18.0"),
        ],
        &[],
    );
    let recs = d.batch(&mut s);
    let got: Vec<_> = recs
        .iter()
        .map(|r| {
            (
                r.packet_number,
                r.host.as_str(),
                r.host_port,
                r.software_type.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (5, "10.0.0.1", 0, "HTTP_CLIENT"),
            (5, "10.0.0.9", 80, "HTTP_SERVER"),
            (12, "10.0.0.2", 0, "HTTP_CLIENT"),
        ]
    );
    assert_eq!(recs[1].product, "nginx");
    assert_eq!(recs[1].version, "1.18.0");
    // A later batch repeats nothing.
    let mut again = sightings(&[http(20, "10.0.0.2", "10.0.0.9", ua, "nginx/1.18.0")], &[]);
    assert!(d.batch(&mut again).is_empty());
}

#[test]
fn services_need_an_answer_and_sum_their_connections() {
    let mut d = Deriver::new(Limits::default());
    let mut s = sightings(
        &[http(
            7,
            "10.0.0.1",
            "10.0.0.9",
            "",
            "Apache/2.4.41 (Ubuntu)",
        )],
        &[
            conn("10.0.0.9", 80, 3, true, "HTTP"),
            // A scan of a closed port: no SYN-ACK, no service.
            conn("10.0.0.9", 81, 4, false, ""),
        ],
    );
    d.batch(&mut s);
    // Connections end out of order: the earliest start is kept.
    let mut s = sightings(&[], &[conn("10.0.0.9", 80, 1, true, "HTTP")]);
    d.batch(&mut s);
    let services = d.finish();
    assert_eq!(services.len(), 1);
    let sv = &services[0];
    assert_eq!(
        (sv.ip.as_str(), sv.port, sv.protocol.as_str()),
        ("10.0.0.9", 80, "TCP")
    );
    assert_eq!((sv.packet_number, sv.connection_uid.as_str()), (1, "C1"));
    assert_eq!(
        (sv.num_connections, sv.bytes_client, sv.bytes_server),
        (2, 200, 400)
    );
    assert_eq!(sv.timestamp_last, 3500);
    assert_eq!(sv.name, "HTTP");
    assert_eq!(
        (sv.product.as_str(), sv.version.as_str()),
        ("Apache", "2.4.41")
    );
    assert_eq!(sv.banner, "Apache/2.4.41 (Ubuntu)");
    assert_eq!(sv.hostname, "example.org");
}

#[test]
fn output_does_not_depend_on_the_order_of_sightings_in_a_batch() {
    let recs = [
        http(5, "10.0.0.1", "10.0.0.9", "Wget/1.21", "a/1"),
        http(6, "10.0.0.3", "10.0.0.8", "Wget/1.21", "b/2"),
    ];
    let conns = [
        conn("10.0.0.9", 80, 2, true, "HTTP"),
        conn("10.0.0.8", 80, 1, true, "HTTP"),
    ];
    let mut a = sightings(&recs, &conns);
    let mut b = a.clone();
    b.reverse();
    let (mut da, mut db) = (Deriver::default_limits(), Deriver::default_limits());
    assert_eq!(da.batch(&mut a), db.batch(&mut b));
    assert_eq!(da.finish(), db.finish());
}

#[test]
fn full_tables_count_what_they_drop() {
    let mut d = Deriver::new(Limits {
        software: 1,
        services: 1,
    });
    let mut s = sightings(
        &[
            http(5, "10.0.0.1", "10.0.0.9", "x/1", ""),
            http(6, "10.0.0.2", "10.0.0.9", "x/1", ""),
        ],
        &[
            conn("10.0.0.9", 80, 1, true, ""),
            conn("10.0.0.8", 80, 2, true, ""),
        ],
    );
    assert_eq!(d.batch(&mut s).len(), 1);
    assert_eq!(d.finish().len(), 1);
    let dropped = d.dropped();
    assert_eq!(dropped.software, 1);
    // The second server, and its hostname (the first one took the slot).
    assert!(dropped.services >= 1);
}
