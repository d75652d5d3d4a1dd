//! The checked-in fuzz seeds are generated from `corpus/scenarios/`, and the `scenario_text`
//! dictionary from the op table; both must be current: regenerate with
//! `cargo run -p ptdiff -- seeds`.

mod common;

use ptdiff::repro::seeds;
use ptdiff::scenario::{decode::decode, text};

#[test]
fn checked_in_seeds_are_up_to_date() {
    let plan = seeds::plan(&common::corpus_dir()).unwrap();
    let stale = seeds::stale(&plan);
    assert!(
        stale.is_empty(),
        "stale or missing seeds (run `cargo run -p ptdiff -- seeds`): {stale:#?}"
    );
}

#[test]
fn differential_seeds_decode_back_to_their_scenarios() {
    let corpus = common::corpus_dir();
    let files = seeds::scenario_files(&corpus).unwrap();
    assert!(files.len() >= 14);
    for scn in files {
        let scenario = text::parse(&std::fs::read_to_string(&scn).unwrap()).unwrap();
        let stem = scn.file_stem().unwrap();
        let bytes = std::fs::read(corpus.join("differential").join(stem)).unwrap();
        assert_eq!(decode(&bytes), scenario, "{}", scn.display());
    }
}

#[test]
fn checked_in_dictionary_is_the_generated_one() {
    let corpus = common::corpus_dir();
    let path = seeds::dictionary_path(&corpus);
    let plan = seeds::plan(&corpus).unwrap();
    assert!(plan.iter().any(|f| f.path == path), "the dictionary is not among the written files");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == text::dictionary(),
        "{} differs from the generated dictionary (run `cargo run -p ptdiff -- seeds`)",
        path.display()
    );
    for keyword in ["\"dma\"", "\"fail\"", "\"missed\"", "\"devices=\""] {
        assert!(checked_in.lines().any(|l| l == keyword), "{keyword}");
    }
}
