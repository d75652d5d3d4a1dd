//! Long inputs: scenarios of an exact number of operations, longer than the fuzz decoder's cap.
//!
//! A long input file is two config bytes followed by chunks of [`CHUNK`] bytes. Each chunk is
//! decoded after the same config bytes (and a zero byte, so no `assign 0` is added); the ops of
//! every chunk, teardowns left out (a teardown would leave the rest of the scenario nothing to
//! do), are concatenated after an `assign 0` and cut to the wanted length.

use ptdiff::scenario::decode::decode;
use ptdiff::{Op, Scenario};

/// Bytes per chunk of a long input.
pub const CHUNK: usize = 256;

/// The scenario of `length` operations built from `input`.
pub fn scenario(input: &[u8], length: usize) -> Result<Scenario, String> {
    let [a, b, body @ ..] = input else { return Err("a long input needs config bytes".into()) };
    // A third byte that is not a multiple of 8 makes the decoder start with `assign 0`.
    let mut scenario = decode(&[*a, *b, 1]);
    for chunk in body.chunks(CHUNK) {
        if scenario.ops.len() >= length {
            break;
        }
        let mut bytes = vec![*a, *b, 0];
        bytes.extend_from_slice(chunk);
        scenario.ops.extend(decode(&bytes).ops.into_iter().filter(|op| *op != Op::Teardown));
    }
    if scenario.ops.len() < length {
        return Err(format!(
            "a long input of {} bytes gives {} ops, fewer than {length}",
            input.len(),
            scenario.ops.len()
        ));
    }
    scenario.ops.truncate(length);
    scenario.validate().map_err(|e| format!("a long input gives an invalid scenario: {e}"))?;
    Ok(scenario)
}

/// [`scenario`] of every input.
pub fn scenarios(inputs: &[Vec<u8>], length: usize) -> Result<Vec<Scenario>, String> {
    inputs.iter().map(|input| scenario(input, length)).collect()
}
