//! The Prometheus text exposition format, version 0.0.4
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/>).
//!
//! One `# HELP` and one `# TYPE` line per metric family, then its samples,
//! one per line: `name{label="value",...} value`. Label values escape `\`,
//! `"` and newlines; help texts escape `\` and newlines. Counters end in
//! `_total` (checked by a debug assertion, and by `promtool check metrics`
//! in CI).

use std::fmt::Write;

/// The `Content-Type` of the format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (restarts at zero with the process).
    Counter,
    /// Goes up and down.
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// A sample's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// An integer, written exactly.
    Int(u64),
    /// A float (`NaN`, `+Inf`, `-Inf` as the format spells them).
    Float(f64),
}

/// One sample of a family: its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Label names and values, in the order written.
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: Value,
}

/// A metric family: name, help, type and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The metric name (`netcap_packets_read_total`).
    pub name: &'static str,
    /// One line saying what it counts.
    pub help: &'static str,
    /// Counter or gauge.
    pub kind: Kind,
    /// The samples (none: the family is written with its HELP and TYPE only).
    pub samples: Vec<Sample>,
}

impl Family {
    /// An empty counter family; `name` must end in `_total`.
    pub fn counter(name: &'static str, help: &'static str) -> Family {
        debug_assert!(
            name.ends_with("_total"),
            "counter {name} must end in _total"
        );
        Family {
            name,
            help,
            kind: Kind::Counter,
            samples: Vec::new(),
        }
    }

    /// An empty gauge family.
    pub fn gauge(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind: Kind::Gauge,
            samples: Vec::new(),
        }
    }

    /// Adds an unlabelled integer sample.
    pub fn with(mut self, value: u64) -> Family {
        self.push(&[], value);
        self
    }

    /// Adds an integer sample with `labels`.
    pub fn push(&mut self, labels: &[(&'static str, &str)], value: u64) {
        self.push_value(labels, Value::Int(value));
    }

    /// Adds a sample with `labels`.
    pub fn push_value(&mut self, labels: &[(&'static str, &str)], value: Value) {
        self.samples.push(Sample {
            labels: labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect(),
            value,
        });
    }
}

fn escape_help(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_label(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

fn write_value(v: Value, out: &mut String) {
    match v {
        Value::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Float(f) if f.is_nan() => out.push_str("NaN"),
        Value::Float(f) if f == f64::INFINITY => out.push_str("+Inf"),
        Value::Float(f) if f == f64::NEG_INFINITY => out.push_str("-Inf"),
        // Rust prints the shortest representation that reads back exactly.
        Value::Float(f) => {
            let _ = write!(out, "{f}");
        }
    }
}

/// Writes `families` in the text format.
pub fn encode(families: &[Family]) -> String {
    let mut out = String::with_capacity(families.len() * 160);
    for f in families {
        out.push_str("# HELP ");
        out.push_str(f.name);
        out.push(' ');
        escape_help(f.help, &mut out);
        out.push('\n');
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.as_str());
        for s in &f.samples {
            out.push_str(f.name);
            if !s.labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in s.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(k);
                    out.push_str("=\"");
                    escape_label(v, &mut out);
                    out.push('"');
                }
                out.push('}');
            }
            out.push(' ');
            write_value(s.value, &mut out);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;
    use std::collections::BTreeMap;

    /// A parsed sample: name, labels, value.
    pub type Parsed = (String, BTreeMap<String, String>, f64);

    /// An independent reading of the format, written from its specification:
    /// returns the samples and, per family, (help, type). Panics on anything
    /// the format does not allow.
    pub fn parse(text: &str) -> (Vec<Parsed>, BTreeMap<String, (String, String)>) {
        let mut samples = Vec::new();
        let mut meta: BTreeMap<String, (String, String)> = BTreeMap::new();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "last line unterminated"
        );
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap();
                let mut h = String::new();
                let mut it = help.chars();
                while let Some(c) = it.next() {
                    if c == '\\' {
                        match it.next().unwrap() {
                            'n' => h.push('\n'),
                            '\\' => h.push('\\'),
                            o => panic!("bad help escape \\{o}"),
                        }
                    } else {
                        h.push(c);
                    }
                }
                assert!(
                    meta.insert(name.to_string(), (h, String::new())).is_none(),
                    "two HELP for {name}"
                );
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, ty) = rest.split_once(' ').unwrap();
                assert!(["counter", "gauge"].contains(&ty), "{ty}");
                let m = meta.get_mut(name).expect("TYPE after HELP");
                assert!(m.1.is_empty(), "two TYPE for {name}");
                m.1 = ty.to_string();
                continue;
            }
            assert!(!line.starts_with('#'), "unexpected comment {line}");
            let name_end = line.find(['{', ' ']).unwrap();
            let name = &line[..name_end];
            assert!(name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'));
            assert!(meta.contains_key(name), "sample {name} before its TYPE");
            let mut labels = BTreeMap::new();
            let mut rest = &line[name_end..];
            if let Some(r) = rest.strip_prefix('{') {
                let mut chars = r.char_indices();
                let mut key = String::new();
                loop {
                    let (_, c) = chars.next().unwrap();
                    if c == '}' {
                        break;
                    }
                    if c == ',' {
                        continue;
                    }
                    if c != '=' {
                        key.push(c);
                        continue;
                    }
                    assert_eq!(chars.next().unwrap().1, '"');
                    let mut value = String::new();
                    loop {
                        match chars.next().unwrap().1 {
                            '"' => break,
                            '\\' => match chars.next().unwrap().1 {
                                'n' => value.push('\n'),
                                '\\' => value.push('\\'),
                                '"' => value.push('"'),
                                o => panic!("bad label escape \\{o}"),
                            },
                            c => value.push(c),
                        }
                    }
                    assert!(labels.insert(std::mem::take(&mut key), value).is_none());
                }
                let at = chars.next().map_or(r.len(), |(i, _)| i);
                rest = &r[at..];
            }
            let v = rest.strip_prefix(' ').unwrap();
            let value = match v {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap(),
            };
            samples.push((name.to_string(), labels, value));
        }
        (samples, meta)
    }

    #[test]
    fn round_trip_with_escapes() {
        let mut f = Family::counter("x_records_total", "Records with \\ and\nnewline.");
        f.push(&[("type", "TCP")], 3);
        f.push(&[("type", "a\"b\\c\nd"), ("k", "")], u64::MAX);
        let mut g = Family::gauge("x_ratio", "A float.");
        g.push_value(&[], Value::Float(0.1));
        g.push_value(&[("v", "inf")], Value::Float(f64::INFINITY));
        g.push_value(&[("v", "ninf")], Value::Float(f64::NEG_INFINITY));
        g.push_value(&[("v", "nan")], Value::Float(f64::NAN));
        let empty = Family::gauge("x_empty", "No samples.");
        let text = encode(&[f, g, empty]);
        let (samples, meta) = parse(&text);
        assert_eq!(
            meta["x_records_total"],
            ("Records with \\ and\nnewline.".into(), "counter".into())
        );
        assert_eq!(meta["x_ratio"].1, "gauge");
        assert_eq!(meta["x_empty"].1, "gauge");
        assert_eq!(samples.len(), 6);
        assert_eq!(samples[0].1["type"], "TCP");
        assert_eq!(samples[0].2, 3.0);
        assert_eq!(samples[1].1["type"], "a\"b\\c\nd");
        assert_eq!(samples[1].1["k"], "");
        assert_eq!(samples[1].2, u64::MAX as f64);
        assert_eq!(samples[2].2, 0.1);
        assert_eq!(samples[3].2, f64::INFINITY);
        assert_eq!(samples[4].2, f64::NEG_INFINITY);
        assert!(samples[5].2.is_nan());
    }

    #[test]
    fn exact_lines() {
        let mut f = Family::counter("a_total", "A.");
        f.push(&[("x", "1"), ("y", "q\"")], 7);
        let text = encode(&[f, Family::gauge("b", "B.").with(0)]);
        assert_eq!(
            text,
            "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"\"} 7\n\
             # HELP b B.\n# TYPE b gauge\nb 0\n"
        );
    }
}
