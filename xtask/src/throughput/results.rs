//! Metrics, their medians over repeats, the results file (`--save`, `--baseline`) and the
//! tables `cargo xtask bench` prints.
//!
//! A metric is a key naming what was measured and in which unit:
//! `fuzz/<target>/<build>/exec_per_sec`, `fuzz/<target>/<build>/peak_rss_mb`,
//! `replay/checked_ops_per_sec`, `replay/inputs_per_sec`, `replay/unchecked_ops_per_sec`,
//! `input/<ops>/us`,
//! `phase/<ops>/<phase>_us` and the derived `input/ratio_1024_64`.

use std::collections::BTreeMap;
use std::fmt::Write;

/// The metrics of one measurement, in the order they were measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample(Vec<(String, f64)>);

impl Sample {
    pub fn new() -> Sample {
        Sample::default()
    }

    pub fn push(&mut self, key: impl Into<String>, value: f64) {
        self.0.push((key.into(), value));
    }

    pub fn values(&self) -> &[(String, f64)] {
        &self.0
    }
}

/// Every sample of one build: each metric's values over the repeats, keys in first-seen order.
#[derive(Clone, Debug, Default)]
pub struct Series {
    keys: Vec<String>,
    values: BTreeMap<String, Vec<f64>>,
}

impl Series {
    pub fn add(&mut self, sample: &Sample) {
        for (key, value) in sample.values() {
            if !self.values.contains_key(key) {
                self.keys.push(key.clone());
            }
            self.values.entry(key.clone()).or_default().push(*value);
        }
    }

    /// Each metric's median, in first-seen order, then the derived metrics.
    pub fn medians(&self) -> Vec<(String, f64)> {
        let mut m: Vec<(String, f64)> =
            self.keys.iter().filter_map(|k| Some((k.clone(), median(&self.values[k])?))).collect();
        let get = |m: &[(String, f64)], key: &str| m.iter().find(|(k, _)| k == key).map(|e| e.1);
        if let (Some(long), Some(short)) = (get(&m, "input/1024/us"), get(&m, "input/64/us")) {
            m.push(("input/ratio_1024_64".to_string(), long / short));
        }
        m
    }

    /// Each metric's spread, `(max - min) / median`.
    pub fn spreads(&self) -> BTreeMap<String, f64> {
        self.values
            .iter()
            .filter_map(|(k, v)| {
                let med = median(v)?;
                let (lo, hi) =
                    v.iter().fold((f64::MAX, f64::MIN), |(l, h), x| (l.min(*x), h.max(*x)));
                (med != 0.0).then(|| (k.clone(), (hi - lo) / med.abs()))
            })
            .collect()
    }
}

/// The median (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// The results file: `#` comment lines, then `key value` per metric.
pub fn format_saved(comment: &str, medians: &[(String, f64)]) -> String {
    let mut out = String::new();
    for line in comment.lines() {
        let _ = writeln!(out, "# {line}");
    }
    for (key, value) in medians {
        let _ = writeln!(out, "{key} {value}");
    }
    out
}

/// Reads a results file written by [`format_saved`].
pub fn parse_saved(text: &str) -> Result<BTreeMap<String, f64>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, line)| {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next().map(str::parse::<f64>), parts.next()) {
                (Some(key), Some(Ok(value)), None) => Ok((key.to_string(), value)),
                _ => Err(format!("line {}: expected `key value`, got `{line}`", i + 1)),
            }
        })
        .collect()
}

/// What a metric key means, for the table.
pub fn label(key: &str) -> String {
    let parts: Vec<&str> = key.split('/').collect();
    let ops = |n: &str| match n {
        "1024" => "1,024".to_string(),
        n => n.to_string(),
    };
    match parts.as_slice() {
        ["fuzz", target, build, "exec_per_sec"] => format!("fuzz {target}, {build}: exec/s"),
        ["fuzz", target, build, "peak_rss_mb"] => format!("fuzz {target}, {build}: peak RSS MB"),
        ["replay", "checked_ops_per_sec"] => "replay: checked ops/s".to_string(),
        ["replay", "inputs_per_sec"] => "replay: inputs/s".to_string(),
        ["replay", "unchecked_ops_per_sec"] => {
            "replay without per-op checks: ops/s (the ceiling)".to_string()
        }
        ["input", "ratio_1024_64"] => "time of a 1,024-op / a 64-op input".to_string(),
        ["input", n, "us"] => format!("{}-op input: us", ops(n)),
        ["phase", n, phase] => {
            let phase = match phase.trim_end_matches("_us") {
                "ops" => "ops",
                "checks" => "per-op checks",
                "sweep" => "final sweep",
                "tables" => "table calls (part of ops)",
                other => other,
            };
            format!("{}-op input, {phase}: us", ops(n))
        }
        _ => key.to_string(),
    }
}

/// A number for the table: thousands separated, fewer decimals for larger values.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v.abs() >= 100.0 {
        let digits = format!("{:.0}", v.abs());
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        format!("{}{grouped}", if v < 0.0 { "-" } else { "" })
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Another set of results to set beside this tree's: a build of a revision measured in the
/// same run (with spreads) or a saved baseline.
pub struct Comparison {
    pub label: String,
    pub medians: BTreeMap<String, f64>,
    pub spreads: Option<BTreeMap<String, f64>>,
}

/// The main table: a row per metric with this tree's median and spread and, per comparison,
/// its median (and spread) and the ratio this / other.
pub fn table(
    this_label: &str,
    medians: &[(String, f64)],
    spreads: &BTreeMap<String, f64>,
    others: &[Comparison],
) -> String {
    let mut header = vec!["metric".to_string(), this_label.to_string(), "spread".to_string()];
    for o in others {
        header.push(o.label.clone());
        if o.spreads.is_some() {
            header.push("spread".to_string());
        }
        header.push(format!("this/{}", o.label));
    }
    let percent = |s: Option<&f64>| s.map_or("-".to_string(), |s| format!("{:.0}%", s * 100.0));
    let mut rows = vec![header];
    for (key, value) in medians {
        let mut row = vec![label(key), number(*value), percent(spreads.get(key))];
        for o in others {
            let other = o.medians.get(key);
            row.push(other.map_or("-".to_string(), |v| number(*v)));
            if let Some(s) = &o.spreads {
                row.push(percent(s.get(key)));
            }
            row.push(match other {
                Some(v) if *v != 0.0 => format!("{:.2}x", value / v),
                _ => "-".to_string(),
            });
        }
        rows.push(row);
    }
    align(&rows)
}

/// Rows as text: the first column left-aligned, the others right-aligned.
fn align(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, s)| {
                if c == 0 {
                    format!("{s:<w$}", w = width[c])
                } else {
                    format!("{s:>w$}", w = width[c])
                }
            })
            .collect();
        let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
    }
    out
}

/// Phases of the split, in the order they run: key, name, and whether it adds to the sum (the
/// table calls are part of the ops phase; setup includes dropping the runner).
const PHASES: [(&str, &str, bool); 5] = [
    ("setup", "setup", true),
    ("ops", "ops", true),
    ("tables", "(table calls)", false),
    ("checks", "per-op checks", true),
    ("sweep", "final sweep", true),
];

/// Where an input's time goes: per length, each phase's microseconds and share of the sum.
pub fn phase_table(medians: &[(String, f64)]) -> Option<String> {
    let get = |key: String| medians.iter().find(|(k, _)| *k == key).map(|e| e.1);
    let mut header = vec!["input".to_string()];
    header.extend(PHASES.iter().map(|(_, name, _)| name.to_string()));
    header.push("sum".to_string());
    let mut rows = vec![header];
    for length in ["16", "64", "256", "1024"] {
        let Some(us) = PHASES
            .iter()
            .map(|(p, _, _)| get(format!("phase/{length}/{p}_us")))
            .collect::<Option<Vec<f64>>>()
        else {
            continue;
        };
        let sum: f64 = us.iter().zip(PHASES).filter(|(_, p)| p.2).map(|(v, _)| v).sum();
        let mut row = vec![label(&format!("input/{length}/us")).replace(" input: us", "")];
        row.extend(us.iter().map(|v| format!("{} ({:.0}%)", number(*v), 100.0 * v / sum)));
        row.push(number(sum));
        rows.push(row);
    }
    (rows.len() > 1).then(|| align(&rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(values: &[(&str, f64)]) -> Sample {
        let mut s = Sample::new();
        for (k, v) in values {
            s.push(*k, *v);
        }
        s
    }

    #[test]
    fn medians_keep_measurement_order_and_derive_the_length_ratio() {
        let mut series = Series::default();
        series.add(&sample(&[("input/64/us", 10.0), ("input/1024/us", 200.0)]));
        series.add(&sample(&[("input/64/us", 30.0), ("input/1024/us", 100.0)]));
        series.add(&sample(&[("input/64/us", 20.0), ("input/1024/us", 300.0)]));
        assert_eq!(
            series.medians(),
            vec![
                ("input/64/us".to_string(), 20.0),
                ("input/1024/us".to_string(), 200.0),
                ("input/ratio_1024_64".to_string(), 10.0),
            ]
        );
        assert_eq!(series.spreads()["input/64/us"], 1.0);
        assert_eq!(series.spreads()["input/1024/us"], 1.0);
    }

    #[test]
    fn median_of_even_count_is_the_middle_mean() {
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn saved_results_read_back() {
        let medians = vec![
            ("replay/checked_ops_per_sec".to_string(), 123456.5),
            ("input/16/us".to_string(), 0.25),
        ];
        let text = format_saved("ptdiff bench\nrev abc", &medians);
        assert_eq!(
            text,
            "# ptdiff bench\n# rev abc\nreplay/checked_ops_per_sec 123456.5\ninput/16/us 0.25\n"
        );
        let back = parse_saved(&text).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back["replay/checked_ops_per_sec"], 123456.5);
        assert_eq!(back["input/16/us"], 0.25);
        assert_eq!(parse_saved("a 1 2").unwrap_err(), "line 1: expected `key value`, got `a 1 2`");
    }

    #[test]
    fn labels_and_numbers_read_well() {
        assert_eq!(label("fuzz/walker/asan/exec_per_sec"), "fuzz walker, asan: exec/s");
        assert_eq!(label("phase/1024/checks_us"), "1,024-op input, per-op checks: us");
        assert_eq!(label("input/ratio_1024_64"), "time of a 1,024-op / a 64-op input");
        assert_eq!(label("something/new"), "something/new");
        assert_eq!(number(1234567.4), "1,234,567");
        assert_eq!(number(-4321.0), "-4,321");
        assert_eq!(number(100.0), "100");
        assert_eq!(number(12.345), "12.3");
        assert_eq!(number(0.5), "0.50");
    }

    #[test]
    fn table_sets_comparisons_beside_this_tree() {
        let medians = vec![("replay/checked_ops_per_sec".to_string(), 2000.0)];
        let spreads = BTreeMap::from([("replay/checked_ops_per_sec".to_string(), 0.05)]);
        let other = Comparison {
            label: "main".to_string(),
            medians: BTreeMap::from([("replay/checked_ops_per_sec".to_string(), 1000.0)]),
            spreads: None,
        };
        assert_eq!(
            table("this", &medians, &spreads, &[other]),
            "  metric                  this  spread   main  this/main\n\
            \x20 replay: checked ops/s  2,000      5%  1,000      2.00x\n"
        );
    }

    #[test]
    fn phase_table_shows_shares() {
        let medians: Vec<(String, f64)> =
            [("setup", 1.0), ("ops", 2.0), ("tables", 1.0), ("checks", 5.5), ("sweep", 1.5)]
                .iter()
                .map(|(p, v)| (format!("phase/16/{p}_us"), *v))
                .collect();
        assert_eq!(
            phase_table(&medians).unwrap(),
            "  input       setup         ops  (table calls)  per-op checks  final sweep   sum\n\
            \x20 16-op  1.00 (10%)  2.00 (20%)     1.00 (10%)     5.50 (55%)   1.50 (15%)  10.0\n"
        );
        assert_eq!(phase_table(&[]), None);
    }
}
