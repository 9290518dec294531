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
    let recs = d.batch(&mut s).software;
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
    assert!(d.batch(&mut again).software.is_empty());
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
    let services = d.finish().services;
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
        ftp_channels: 1,
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
    assert_eq!(d.batch(&mut s).software.len(), 1);
    assert_eq!(d.finish().services.len(), 1);
    let dropped = d.dropped();
    assert_eq!(dropped.software, 1);
    // The second server, and its hostname (the first one took the slot).
    assert!(dropped.services >= 1);
}

fn ssh(number: u64, client: &str, server: &str, cv: &str, sv: &str) -> StreamRecord {
    StreamRecord::Ssh(Box::new(netcap_schema::Ssh {
        packet_number: number,
        timestamp: number as i64,
        connection_uid: format!("C{number}"),
        src_ip: client.into(),
        src_port: 50000,
        dst_ip: server.into(),
        dst_port: 22,
        client_version: cv.into(),
        server_version: sv.into(),
        ..Default::default()
    }))
}

/// An FTP record of the control connection "F1" (10.0.0.1 to 10.0.0.9:21).
fn ftp(number: u64, command: &str, args: &str, code: i32, text: &str) -> netcap_schema::Ftp {
    netcap_schema::Ftp {
        packet_number: number,
        timestamp: number as i64 * 1000,
        connection_uid: "F1".into(),
        src_ip: "10.0.0.1".into(),
        src_port: 40000,
        dst_ip: "10.0.0.9".into(),
        dst_port: 21,
        command: command.into(),
        arguments: args.into(),
        reply_code: code,
        reply_text: text.into(),
        user: "anonymous".into(),
        ..Default::default()
    }
}

fn rec(f: netcap_schema::Ftp) -> StreamRecord {
    StreamRecord::Ftp(Box::new(f))
}

/// PASV answered with the endpoint 10.0.0.9:`port`.
fn pasv(number: u64, port: i32) -> StreamRecord {
    let mut f = ftp(number, "PASV", "", 227, "Entering Passive Mode");
    f.reply_packet_number = number;
    f.data_ip = "10.0.0.9".into();
    f.data_port = port;
    f.data_passive = true;
    rec(f)
}

/// A transfer command using the endpoint 10.0.0.9:`port`.
fn retr(number: u64, port: i32, file: &str, info: i32, code: i32) -> StreamRecord {
    let mut f = ftp(number, "RETR", file, code, "");
    f.info_code = info;
    f.file_name = file.into();
    f.file_direction = "download".into();
    f.data_ip = "10.0.0.9".into();
    f.data_port = port;
    f.data_passive = true;
    rec(f)
}

/// The data connection 10.0.0.1 to 10.0.0.9:`port` starting at `first`.
fn data_conn(port: i32, first: u64, bytes: i64) -> Connection {
    let mut c = conn("10.0.0.9", port, first, true, "");
    c.uid = format!("D{first}");
    c.stream_bytes_server_to_client = bytes;
    c.stream_bytes_client_to_server = 0;
    c
}

#[test]
fn banners_make_software_and_name_the_service() {
    let mut d = Deriver::default_limits();
    let mut smtp = netcap_schema::Smtp {
        packet_number: 30,
        connection_uid: "M1".into(),
        src_ip: "10.0.0.1".into(),
        dst_ip: "10.0.0.25".into(),
        dst_port: 25,
        reply_code: 220,
        reply_text: "mx.example.org ESMTP Postfix (Ubuntu)".into(),
        ..Default::default()
    };
    let mut ehlo = smtp.clone();
    ehlo.packet_number = 32;
    ehlo.command = "EHLO".into();
    ehlo.reply_code = 250;
    ehlo.reply_text = "mx.example.org\nPIPELINING\nSTARTTLS".into();
    let pop = netcap_schema::Pop3 {
        packet_number: 40,
        dst_ip: "10.0.0.110".into(),
        dst_port: 110,
        status: "+OK".into(),
        reply_text: "Dovecot (Ubuntu) ready.".into(),
        ..Default::default()
    };
    let imap = netcap_schema::Imap {
        packet_number: 50,
        dst_ip: "10.0.0.143".into(),
        dst_port: 143,
        tag: "*".into(),
        status: "OK".into(),
        reply_text: "Microsoft Exchange IMAP4rev1 server version 5.5.2650.23 (umr-mail02) ready"
            .into(),
        ..Default::default()
    };
    let mut clnt = ftp(12, "CLNT", "NcFTP 3.2.6 macosx10.15", 200, "Noted.");
    clnt.reply_code = 200;
    let mut s = sightings(
        &[
            ssh(
                10,
                "10.0.0.1",
                "10.0.0.22",
                "SSH-2.0-libssh-0.7.2",
                "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3",
            ),
            rec(ftp(11, "", "", 220, "(vsFTPd 3.0.3)")),
            rec(clnt),
            rec(ftp(13, "SYST", "", 215, "UNIX Type: L8")),
            StreamRecord::Smtp(Box::new(smtp.clone())),
            StreamRecord::Smtp(Box::new(ehlo)),
            StreamRecord::Pop3(Box::new(pop)),
            StreamRecord::Imap(Box::new(imap)),
        ],
        &[
            conn("10.0.0.22", 22, 1, true, "SSH"),
            conn("10.0.0.9", 21, 2, true, "FTP"),
            conn("10.0.0.25", 25, 3, true, "SMTP"),
            conn("10.0.0.110", 110, 4, true, "POP3"),
            conn("10.0.0.143", 143, 5, true, ""),
        ],
    );
    let sw = d.batch(&mut s).software;
    let got: Vec<_> = sw
        .iter()
        .map(|r| {
            format!(
                "{} {}:{} {} {}|{}|{}",
                r.source_name, r.host, r.host_port, r.software_type, r.product, r.version, r.os
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "SSH client banner 10.0.0.1:0 SSH_CLIENT libssh|0.7.2|",
            "SSH server banner 10.0.0.22:22 SSH_SERVER OpenSSH|8.9p1|Ubuntu-3",
            "FTP greeting 10.0.0.9:21 FTP_SERVER vsFTPd|3.0.3|",
            "FTP CLNT 10.0.0.1:0 FTP_CLIENT NcFTP|3.2.6|",
            "FTP SYST reply 10.0.0.9:21 FTP_SERVER ||UNIX",
            "SMTP greeting 10.0.0.25:25 SMTP_MAIL_SERVER Postfix||Ubuntu",
            // The EHLO reply names no server: no record.
            "POP3 greeting 10.0.0.110:110 POP3_SERVER Dovecot||Ubuntu",
            "IMAP greeting 10.0.0.143:143 IMAP_SERVER Microsoft Exchange|5.5.2650.23|Windows",
        ]
    );
    // The raw string is kept as sent.
    assert_eq!(sw[1].source_data, "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3");
    assert_eq!(sw[5].source_data, smtp.reply_text);
    let services = d.finish().services;
    let got: Vec<_> = services
        .iter()
        .map(|s| {
            format!(
                "{}:{} {} {}|{}|{}",
                s.ip, s.port, s.name, s.product, s.version, s.banner
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "10.0.0.22:22 SSH OpenSSH|8.9p1|SSH-2.0-OpenSSH_8.9p1 Ubuntu-3",
            "10.0.0.9:21 FTP vsFTPd|3.0.3|(vsFTPd 3.0.3)",
            "10.0.0.25:25 SMTP Postfix||mx.example.org ESMTP Postfix (Ubuntu)",
            "10.0.0.110:110 POP3 Dovecot||Dovecot (Ubuntu) ready.",
            // No protocol from the connections: the greeting's.
            "10.0.0.143:143 IMAP Microsoft Exchange|5.5.2650.23|Microsoft Exchange IMAP4rev1 \
             server version 5.5.2650.23 (umr-mail02) ready",
        ]
    );
    // A later greeting of the same server with another text is another
    // Software record, but not the Service's banner.
    smtp.packet_number = 60;
    smtp.reply_text = "mx.example.org ESMTP".into();
    let mut s = sightings(&[StreamRecord::Smtp(Box::new(smtp))], &[]);
    assert_eq!(d.batch(&mut s).software.len(), 1);
}

#[test]
fn a_product_comes_from_a_later_announcement_when_the_banner_names_none() {
    let mut d = Deriver::default_limits();
    let mut s = sightings(
        &[
            rec(ftp(11, "", "", 220, "Welcome")),
            rec(ftp(13, "SYST", "", 215, "UNIX emulated by FileZilla")),
        ],
        &[conn("10.0.0.9", 21, 2, true, "FTP")],
    );
    d.batch(&mut s);
    let sv = d.finish().services;
    assert_eq!(
        (sv[0].banner.as_str(), sv[0].product.as_str()),
        ("Welcome", "FileZilla Server")
    );
}

fn links(d: &mut Deriver, recs: &[StreamRecord], conns: &[Connection]) -> Vec<String> {
    let mut s = sightings(recs, conns);
    d.batch(&mut s)
        .ftp_data
        .iter()
        .map(|f| {
            format!(
                "{} {}:{}->{}:{} ctl={} {}@{} {} {} {} {}@{} size={}",
                f.connection_uid,
                f.src_ip,
                f.src_port,
                f.dst_ip,
                f.dst_port,
                f.control_uid,
                f.setup_command,
                f.setup_packet_number,
                f.passive,
                f.command,
                f.file_name,
                f.reply_code,
                f.command_packet_number,
                f.size
            )
        })
        .collect()
}

#[test]
fn ftp_data_connections_link_to_their_command_in_either_order() {
    // The command's record (at its 226) after the data connection's.
    let mut d = Deriver::default_limits();
    assert!(links(&mut d, &[pasv(10, 5001)], &[data_conn(5001, 12, 300)]).is_empty());
    assert_eq!(
        links(&mut d, &[retr(11, 5001, "a.txt", 150, 226)], &[]),
        ["D12 10.0.0.1:40012->10.0.0.9:5001 ctl=F1 PASV@10 true RETR a.txt 226@11 size=300"]
    );
    // The data connection's after the command's, in one batch or two.
    assert_eq!(
        links(
            &mut d,
            &[pasv(20, 5002), retr(21, 5002, "b.txt", 150, 226)],
            &[data_conn(5002, 22, 7)]
        ),
        ["D22 10.0.0.1:40022->10.0.0.9:5002 ctl=F1 PASV@20 true RETR b.txt 226@21 size=7"]
    );
    assert!(links(
        &mut d,
        &[pasv(30, 5003), retr(31, 5003, "c", 150, 226)],
        &[]
    )
    .is_empty());
    assert_eq!(links(&mut d, &[], &[data_conn(5003, 32, 1)]).len(), 1);
    // Nothing is left.
    assert!(d.finish().ftp_data.is_empty());
}

#[test]
fn ftp_data_needs_a_connection_after_the_announcement() {
    let mut d = Deriver::default_limits();
    // A connection to the port before the PASV is not its data connection;
    // a refused RETR (550, no 150) does not take the endpoint.
    let got = links(
        &mut d,
        &[
            pasv(10, 5001),
            retr(11, 5001, "missing", 0, 550),
            retr(13, 5001, "there", 150, 226),
        ],
        &[data_conn(5001, 9, 5), data_conn(5001, 12, 6)],
    );
    assert_eq!(
        got,
        ["D12 10.0.0.1:40012->10.0.0.9:5001 ctl=F1 PASV@10 true RETR there 226@13 size=6"]
    );
    // Active mode: the FTP server opens the connection to the client's
    // endpoint; the download's bytes go from it, the connection's client.
    let mut port = ftp(
        20,
        "PORT",
        "10,0,0,1,19,137",
        200,
        "PORT command successful",
    );
    port.data_ip = "10.0.0.1".into();
    port.data_port = 5001;
    let mut list = ftp(21, "LIST", "", 226, "");
    list.info_code = 150;
    list.file_direction = "download".into();
    list.data_ip = "10.0.0.1".into();
    list.data_port = 5001;
    let mut c = conn("10.0.0.1", 5001, 22, true, "");
    c.src_ip = "10.0.0.9".into();
    c.src_port = 20;
    c.uid = "D22".into();
    c.stream_bytes_client_to_server = 99;
    assert_eq!(
        links(&mut d, &[rec(port), rec(list)], &[c]),
        ["D22 10.0.0.9:20->10.0.0.1:5001 ctl=F1 PORT@20 false LIST  226@21 size=99"]
    );
    // A data connection without its command is written at the end.
    assert!(links(&mut d, &[pasv(30, 6000)], &[data_conn(6000, 31, 4)]).is_empty());
    let end = d.finish().ftp_data;
    assert_eq!(end.len(), 1);
    assert_eq!((end[0].command.as_str(), end[0].size), ("", 4));
    // A PORT the server refused announces nothing.
    let mut bad = ftp(40, "PORT", "10,0,0,1,19,137", 500, "Illegal PORT command");
    bad.data_ip = "10.0.0.1".into();
    bad.data_port = 5001;
    assert!(crate::ftp::seen(&bad).is_none());
}

#[test]
fn ftp_endpoints_are_bounded() {
    let mut d = Deriver::new(Limits {
        ftp_channels: 2,
        ..Limits::default()
    });
    // The first endpoint's connection was seen: it is written when it is
    // pushed out; the second's was not: counted.
    let got = links(
        &mut d,
        &[
            pasv(10, 5001),
            pasv(20, 5002),
            pasv(30, 5003),
            pasv(40, 5004),
        ],
        &[data_conn(5001, 11, 1)],
    );
    assert_eq!(got.len(), 1);
    assert_eq!(d.dropped().ftp_channels, 1);
    // The ones kept still link.
    assert_eq!(
        links(
            &mut d,
            &[retr(41, 5004, "x", 150, 226)],
            &[data_conn(5004, 42, 2)]
        )
        .len(),
        1
    );
}

#[test]
fn ftp_links_do_not_depend_on_the_order_of_sightings_in_a_batch() {
    let recs = [
        pasv(10, 5001),
        retr(11, 5001, "a", 150, 226),
        pasv(20, 5002),
        retr(21, 5002, "b", 150, 226),
    ];
    let conns = [data_conn(5002, 22, 2), data_conn(5001, 12, 1)];
    let mut a = sightings(&recs, &conns);
    let mut b = a.clone();
    b.reverse();
    let (mut da, mut db) = (Deriver::default_limits(), Deriver::default_limits());
    let (ra, rb) = (da.batch(&mut a), db.batch(&mut b));
    assert_eq!(ra.ftp_data.len(), 2);
    assert_eq!(ra, rb);
}

#[test]
fn an_endpoint_announced_again_links_each_data_connection() {
    // The server hands out port 21008 twice; both Connection records come
    // at the end, after the second announcement, in either order.
    let recs = [
        pasv(14, 21008),
        retr(18, 21008, "first", 125, 226),
        pasv(62, 21008),
        retr(66, 21008, "second", 125, 226),
    ];
    for conns in [
        [data_conn(21008, 15, 83), data_conn(21008, 63, 693)],
        [data_conn(21008, 63, 693), data_conn(21008, 15, 83)],
    ] {
        let mut d = Deriver::default_limits();
        assert!(links(&mut d, &recs, &[]).is_empty());
        let mut got = links(&mut d, &[], &conns);
        got.sort();
        assert_eq!(
            got,
            [
                "D15 10.0.0.1:40015->10.0.0.9:21008 ctl=F1 PASV@14 true RETR first 226@18 size=83",
                "D63 10.0.0.1:40063->10.0.0.9:21008 ctl=F1 PASV@62 true RETR second 226@66 size=693",
            ]
        );
        assert!(d.finish().ftp_data.is_empty());
    }
    // A second connection to an endpoint already linked is not a data
    // connection; neither is a command reusing a used endpoint.
    let mut d = Deriver::default_limits();
    let got = links(
        &mut d,
        &[
            pasv(10, 5001),
            retr(11, 5001, "a", 150, 226),
            retr(20, 5001, "b", 150, 226),
        ],
        &[data_conn(5001, 12, 1), data_conn(5001, 21, 2)],
    );
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("RETR a"));
    assert!(d.finish().ftp_data.is_empty());
}

/// The File of data connection `D{first}`: its content sent by the
/// connection's client (`to_server`) or server, at packet `number`.
fn data_file(first: u64, number: u64, to_server: bool) -> Sighting {
    let f = netcap_schema::File {
        packet_number: number,
        connection_uid: format!("D{first}"),
        file_uid: format!("D{first}.F1"),
        source: "FTP".into(),
        to_server,
        ..Default::default()
    };
    ftp_file(&f).unwrap()
}

fn named(files: &[netcap_schema::File]) -> Vec<String> {
    files
        .iter()
        .map(|f| {
            format!(
                "{}@{} {:?} {}",
                f.file_uid, f.packet_number, f.name, f.command
            )
        })
        .collect()
}

#[test]
fn ftp_data_files_wait_for_their_command_and_take_its_name() {
    assert!(
        ftp_file(&netcap_schema::File::default()).is_none(),
        "HTTP and mail Files are written at once"
    );
    let mut d = Deriver::default_limits();
    // PASV download: the data connection's server (the FTP server) sends.
    let mut s = sightings(&[pasv(10, 5001)], &[data_conn(5001, 12, 3)]);
    s.push(data_file(12, 13, false));
    assert!(
        d.batch(&mut s).files.is_empty(),
        "the command is not known yet"
    );
    let mut s = sightings(&[retr(11, 5001, "dir/a.txt", 150, 226)], &[]);
    assert_eq!(
        named(&d.batch(&mut s).files),
        ["D12.F1@13 \"dir/a.txt\" RETR"]
    );
    // Bytes the other way than the command's are no file of that name.
    let mut s = sightings(
        &[pasv(20, 5002), retr(21, 5002, "b", 150, 226)],
        &[data_conn(5002, 22, 3)],
    );
    s.push(data_file(22, 23, true));
    assert_eq!(named(&d.batch(&mut s).files), ["D22.F1@23 \"\" RETR"]);
    // A listing has no name.
    let mut list = ftp(31, "LIST", "-la", 226, "");
    list.info_code = 150;
    list.file_name = "-la".into();
    list.file_direction = "download".into();
    list.data_ip = "10.0.0.9".into();
    list.data_port = 5003;
    list.data_passive = true;
    let mut s = sightings(&[pasv(30, 5003), rec(list)], &[data_conn(5003, 32, 3)]);
    s.push(data_file(32, 33, false));
    assert_eq!(named(&d.batch(&mut s).files), ["D32.F1@33 \"\" LIST"]);
    // Never linked: written at the end as they are, in order.
    let mut s = vec![data_file(40, 42, false), data_file(50, 41, false)];
    assert!(d.batch(&mut s).files.is_empty());
    assert_eq!(
        named(&d.finish().files),
        ["D50.F1@41 \"\" ", "D40.F1@42 \"\" "]
    );
    assert_eq!(d.dropped().ftp_files, 0);
}

#[test]
fn ftp_data_files_waiting_are_bounded() {
    let mut d = Deriver::new(Limits {
        ftp_channels: 2,
        ..Limits::default()
    });
    let mut s: Vec<Sighting> = (1..=5).map(|i| data_file(i, 10 + i, false)).collect();
    let out = d.batch(&mut s).files;
    assert_eq!(
        named(&out),
        ["D1.F1@11 \"\" ", "D2.F1@12 \"\" ", "D3.F1@13 \"\" "],
        "the oldest go out unnamed"
    );
    assert_eq!(d.dropped().ftp_files, 3);
    assert_eq!(d.finish().files.len(), 2);
    // Linked Files leave no trace in the queue.
    let mut d = Deriver::new(Limits {
        ftp_channels: 2,
        ..Limits::default()
    });
    for i in 0..50u64 {
        let port = 6000 + i as i32;
        let first = 100 + 10 * i;
        let mut s = sightings(
            &[pasv(first - 2, port), retr(first - 1, port, "f", 150, 226)],
            &[data_conn(port, first, 1)],
        );
        s.push(data_file(first, first + 1, false));
        assert_eq!(d.batch(&mut s).files.len(), 1);
        assert!(d.ftp_files.queued() <= 4);
    }
    assert_eq!(d.dropped().ftp_files, 0);
}
