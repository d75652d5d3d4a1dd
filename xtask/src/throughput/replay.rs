//! Reading the bench runner's output (`xtask/bench-runner`) into metrics.

use crate::throughput::results::Sample;
use std::collections::BTreeMap;

/// The `key=value` fields of a runner line, after its kind.
fn fields(rest: &str) -> Result<BTreeMap<&str, u128>, String> {
    rest.split_whitespace()
        .map(|field| {
            let (key, value) = field.split_once('=').ok_or(format!("bad field `{field}`"))?;
            let value = value.parse().map_err(|_| format!("bad number in `{field}`"))?;
            Ok((key, value))
        })
        .collect()
}

/// What one run of the bench runner measured.
#[derive(Debug, PartialEq)]
pub struct Measured {
    pub sample: Sample,
    /// Inputs on which a check fired (nothing is planted: a finding is a bug).
    pub findings: u128,
    /// CPU time over wall time of the samples that give both: below 1 the machine was busy.
    pub cpu_share: Option<f64>,
}

/// The metrics of the runner's output lines (see `xtask/bench-runner/src/main.rs`). Rates and
/// times use the runner's CPU time where it gave one, else its wall time.
pub fn parse(output: &str) -> Result<Measured, String> {
    let mut sample = Sample::new();
    let mut findings = 0;
    let (mut cpu_total, mut wall_total) = (0u128, 0u128);
    for line in output.lines().filter(|l| !l.trim().is_empty()) {
        let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
        let f = fields(rest).map_err(|e| format!("runner line `{line}`: {e}"))?;
        let get = |key: &str| {
            f.get(key).copied().ok_or_else(|| format!("runner line `{line}` lacks `{key}`"))
        };
        findings += get("findings")?;
        let ops = get("ops")?;
        match kind {
            "replay" | "length" | "ceiling" => {
                let inputs = get("inputs")?.max(1) as f64;
                let nanos = get("cpu").or_else(|_| get("nanos"))?.max(1) as f64;
                if let (Ok(cpu), Ok(wall)) = (get("cpu"), get("nanos")) {
                    cpu_total += cpu;
                    wall_total += wall;
                }
                if kind == "replay" {
                    sample.push("replay/checked_ops_per_sec", ops as f64 / nanos * 1e9);
                    sample.push("replay/inputs_per_sec", inputs / nanos * 1e9);
                } else if kind == "ceiling" {
                    sample.push("replay/unchecked_ops_per_sec", ops as f64 / nanos * 1e9);
                } else {
                    sample.push(format!("input/{ops}/us"), nanos / inputs / 1000.0);
                }
            }
            "phases" => {
                // Each field is the time per input of a loop that runs one phase further.
                let us = |key: &str| get(key).map(|n| n as f64 / 1000.0);
                let (new, unchecked, checked) = (us("new")?, us("unchecked")?, us("checked")?);
                sample.push(format!("phase/{ops}/setup_us"), new);
                sample.push(format!("phase/{ops}/ops_us"), unchecked - new);
                sample.push(format!("phase/{ops}/tables_us"), us("tables")? - us("tables_new")?);
                sample.push(format!("phase/{ops}/checks_us"), checked - unchecked);
                sample.push(format!("phase/{ops}/sweep_us"), us("swept")? - checked);
            }
            other => return Err(format!("unknown runner line kind `{other}`")),
        }
    }
    let cpu_share = (wall_total > 0).then(|| cpu_total as f64 / wall_total as f64);
    Ok(Measured { sample, findings, cpu_share })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runner_lines_become_metrics() {
        let out = "replay inputs=512 ops=20000 nanos=4000000000 cpu=2000000000 findings=0\n\
                   length ops=64 inputs=1000 nanos=250000000 findings=0\n\
                   phases ops=16 new=10000 unchecked=30000 checked=100000 swept=130000 tables_new=5000 tables=20000 findings=1\n\
                   ceiling inputs=512 ops=30000 nanos=1500000000 findings=0\n";
        let measured = parse(out).unwrap();
        assert_eq!(measured.findings, 1);
        assert_eq!(measured.cpu_share, Some(0.5));
        assert_eq!(
            measured.sample.values(),
            &[
                ("replay/checked_ops_per_sec".to_string(), 10_000.0),
                ("replay/inputs_per_sec".to_string(), 256.0),
                ("input/64/us".to_string(), 250.0),
                ("phase/16/setup_us".to_string(), 10.0),
                ("phase/16/ops_us".to_string(), 20.0),
                ("phase/16/tables_us".to_string(), 15.0),
                ("phase/16/checks_us".to_string(), 70.0),
                ("phase/16/sweep_us".to_string(), 30.0),
                ("replay/unchecked_ops_per_sec".to_string(), 20_000.0),
            ]
        );
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert_eq!(
            parse("replay inputs=1 ops=2 findings=0").unwrap_err(),
            "runner line `replay inputs=1 ops=2 findings=0` lacks `nanos`"
        );
        assert_eq!(
            parse("length ops=x").unwrap_err(),
            "runner line `length ops=x`: bad number in `ops=x`"
        );
        assert_eq!(
            parse("sweep ops=1 findings=0").unwrap_err(),
            "unknown runner line kind `sweep`"
        );
    }
}
