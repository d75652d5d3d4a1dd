//! `cargo xtask coverage`: not written yet (issue 6).

pub fn main(_args: &[String]) -> Result<(), String> {
    Err("coverage is not implemented yet".to_string())
}
