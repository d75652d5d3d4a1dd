//! `--max-ops N` of `cargo xtask fuzz` and `bench-planted`: the differential targets decode
//! each input to at most N operations (`PTDIFF_MAX_OPS=N`), and `ptdiff repro --max-ops N`
//! decodes a crash the same way.

/// The most operations the decoder gives a fuzz input (`MAX_DECODED_OPS` of the engine's
/// decoder), the bound of `--max-ops`.
pub const MAX_DECODED_OPS: u16 = 1024;

/// Parses the value of `--max-ops`: 1 to [`MAX_DECODED_OPS`].
pub fn parse_max_ops(value: Option<&String>) -> Result<u16, String> {
    value
        .and_then(|s| s.parse().ok())
        .filter(|n| (1..=MAX_DECODED_OPS).contains(n))
        .ok_or_else(|| format!("--max-ops needs a number from 1 to {MAX_DECODED_OPS}"))
}

/// The fuzzer environment of `--max-ops N`: `PTDIFF_MAX_OPS=N`, read by the differential
/// targets (the built-in one and your own table's).
pub fn max_ops_env(max_ops: Option<u16>) -> Vec<(String, String)> {
    max_ops.map(|n| ("PTDIFF_MAX_OPS".to_string(), n.to_string())).into_iter().collect()
}

/// The command-line flag that decodes a `differential` input as a run under `--max-ops` did.
pub fn max_ops_flag(max_ops: Option<u16>) -> String {
    max_ops.map(|n| format!(" --max-ops {n}")).unwrap_or_default()
}
