//! The checked-in fuzz seeds are generated from `corpus/scenarios/` (the concurrent ones into
//! `corpus/concurrent/`), and the `scenario_text` dictionary from the op table; both must be
//! current: regenerate with
//! `cargo run -p ptdiff -- seeds`.

mod common;

use ptdiff::conc;
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
    let mut sequential = 0;
    for scn in files {
        let source = std::fs::read_to_string(&scn).unwrap();
        if conc::text::is_concurrent(source.as_bytes()) {
            continue;
        }
        sequential += 1;
        let scenario = text::parse(&source).unwrap();
        let stem = scn.file_stem().unwrap();
        let bytes = std::fs::read(corpus.join("differential").join(stem)).unwrap();
        assert_eq!(decode(&bytes), scenario, "{}", scn.display());
    }
    assert!(sequential >= 14, "{sequential}");
}

#[test]
fn concurrent_seeds_decode_back_to_their_scenarios() {
    let corpus = common::corpus_dir();
    let mut concurrent = Vec::new();
    for scn in seeds::scenario_files(&corpus).unwrap() {
        let source = std::fs::read_to_string(&scn).unwrap();
        if !conc::text::is_concurrent(source.as_bytes()) {
            continue;
        }
        let name = scn.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("conc-"), "{name}: concurrent scenarios are named conc-*.scn");
        let scenario = conc::text::parse(&source).unwrap();
        let stem = scn.file_stem().unwrap();
        let bytes = std::fs::read(corpus.join("concurrent").join(stem)).unwrap();
        assert_eq!(conc::decode::decode(&bytes), scenario, "{}", scn.display());
        let text_seed = corpus.join("scenario_text").join(&name);
        assert!(!text_seed.exists(), "{}: not a seed of the sequential text target", name);
        concurrent.push(name);
    }
    assert!(concurrent.len() >= 4, "{concurrent:?}");
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
