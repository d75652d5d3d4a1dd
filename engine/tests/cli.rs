//! Snapshots of the command line's output: help, each class of error, a finding report.
//!
//! Commands run in-process through `ptdiff::cli::main` from the package directory, so paths in
//! the output are relative; files made at test time live under a scratch directory that the
//! snapshot shows as `[TMP]`. Review changed snapshots with `cargo insta review` (or
//! `INSTA_UPDATE=always cargo test --test cli` and `git diff`).

use ptdiff::cli::{self, EXIT_BAD_INPUT, EXIT_FINDING, EXIT_PASS, MAX_INPUT_BYTES};
use ptdiff::PlantedBug;
use std::path::{Path, PathBuf};

/// A scratch directory for this test, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `ptdiff ARGS` and returns its exit status and a transcript with scratch paths
/// replaced by `[TMP]`.
fn ptdiff(args: &[&str]) -> (u8, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = cli::main(args, &mut out, &mut err);
    let transcript = format!(
        "$ ptdiff {}\nexit status: {status}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    );
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli");
    (status, transcript.replace(tmp.to_str().unwrap(), "[TMP]"))
}

/// `ptdiff ARGS` must exit with `status`; returns the transcript.
fn expect(status: u8, args: &[&str]) -> String {
    let (got, transcript) = ptdiff(args);
    assert_eq!(got, status, "{transcript}");
    transcript
}

/// The entry of a possible value starting at line `at`, its lines (wrapped ones, indented and
/// not starting with `- `) joined by spaces, and the index of its last line.
fn entry_at(lines: &[&str], at: usize) -> (String, usize) {
    let mut text = lines[at].trim_end().to_string();
    let mut last = at;
    while let Some(next) = lines.get(last + 1) {
        let wrapped = next.starts_with("            ") && !next.trim_start().starts_with("- ");
        if !wrapped || next.trim().is_empty() {
            break;
        }
        text = format!("{text} {}", next.trim());
        last += 1;
    }
    (text, last)
}

/// Checks that the help lists every planted bug of the catalogue, one entry each (wrapped or
/// not) with its implementation and summary, then replaces that list with one line, so that
/// the snapshot does not change with the catalogue.
fn catalogue_listed(help: String) -> String {
    let mut lines: Vec<&str> = help.lines().collect();
    let mut at: Vec<(usize, usize)> = PlantedBug::ALL
        .iter()
        .map(|bug| {
            let entry = format!("[{}] {}", bug.implementation(), bug.summary());
            let id = format!("- {}:", bug.id());
            (0..lines.len())
                .filter(|&i| lines[i].trim_start().starts_with(&id))
                .map(|i| (i, entry_at(&lines, i)))
                .find(|(_, (text, _))| text.ends_with(&entry))
                .map(|(i, (_, last))| (i, last))
                .unwrap_or_else(|| panic!("planted bug {} is not listed in:\n{help}", bug.id()))
        })
        .collect();
    at.sort_unstable();
    let lines_listed: usize = at.iter().map(|(first, last)| last - first + 1).sum();
    let (first, last) = (at[0].0, at[at.len() - 1].1);
    assert_eq!(last - first + 1, lines_listed, "the planted bugs are not listed together:\n{help}");
    let placeholder = "          [PlantedBug::ALL, one line each: - ID: [implementation] summary]";
    lines.splice(first..=last, [placeholder]);
    lines.join("\n") + "\n"
}

/// Checks that the error lists the ids of the catalogue, then replaces the list, as
/// [`catalogue_listed`] does.
fn ids_listed(error: String) -> String {
    let ids: Vec<&str> = PlantedBug::ALL.iter().map(|bug| bug.id()).collect();
    let list = format!("[possible values: {}]", ids.join(", "));
    assert!(error.contains(&list), "{error}");
    error.replace(&list, "[possible values: the ids of PlantedBug::ALL]")
}

#[test]
fn top_level_help() {
    insta::assert_snapshot!("help", expect(EXIT_PASS, &["--help"]));
}

#[test]
fn no_arguments_print_the_help_as_an_error() {
    insta::assert_snapshot!("no_arguments", expect(EXIT_BAD_INPUT, &[]));
}

#[test]
fn version() {
    let (status, _) = ptdiff(&["--version"]);
    assert_eq!(status, EXIT_PASS);
    let mut out = Vec::new();
    cli::main(["--version"], &mut out, &mut Vec::new());
    assert_eq!(String::from_utf8(out).unwrap(), format!("ptdiff {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn subcommand_help() {
    for command in ["run", "repro", "minimize", "explore"] {
        let help = catalogue_listed(expect(EXIT_PASS, &[command, "--help"]));
        insta::assert_snapshot!(format!("help_{command}"), help);
    }
    for command in ["plants", "seeds"] {
        insta::assert_snapshot!(format!("help_{command}"), expect(EXIT_PASS, &[command, "--help"]));
    }
}

#[test]
fn the_input_limit_is_stated_in_the_help() {
    for command in ["run", "repro", "minimize", "explore"] {
        let help = expect(EXIT_PASS, &[command, "--help"]);
        assert!(help.contains(&format!("at most 4 MiB ({MAX_INPUT_BYTES} bytes)")), "{help}");
    }
}

#[test]
fn the_readme_states_the_same_input_limit() {
    let readme = std::fs::read_to_string("../README.md").unwrap();
    let limit =
        format!("Input files must be regular files of at most {} MiB;", MAX_INPUT_BYTES >> 20);
    assert!(readme.contains(&limit), "README.md should say: {limit}");
}

#[test]
fn plants_lists_the_catalogue() {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(cli::main(["plants"], &mut out, &mut err), EXIT_PASS);
    let expected: String = PlantedBug::ALL
        .iter()
        .map(|b| {
            let target = if b.concurrent() { "concurrent" } else { "differential" };
            let (id, check, summary) = (b.id(), b.check().name(), b.summary());
            format!("{id}\t{}\t{check}\t{target}\t{summary}\n", b.implementation())
        })
        .collect();
    assert_eq!(String::from_utf8(out).unwrap(), expected);
    assert!(err.is_empty());
}

#[test]
fn missing_file() {
    insta::assert_snapshot!("missing_file", expect(EXIT_BAD_INPUT, &["run", "no/such/file.scn"]));
}

#[test]
fn directory_given_to_repro() {
    insta::assert_snapshot!(
        "directory_to_repro",
        expect(EXIT_BAD_INPUT, &["repro", "../corpus/scenarios"])
    );
}

#[cfg(unix)]
#[test]
fn fifo() {
    let dir = scratch("fifo");
    let fifo = dir.join("pipe.scn");
    let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `name` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let path = fifo.to_str().unwrap();
    insta::assert_snapshot!("fifo_to_run", expect(EXIT_BAD_INPUT, &["run", path]));
    insta::assert_snapshot!("fifo_to_minimize", expect(EXIT_BAD_INPUT, &["minimize", path]));
}

#[cfg(unix)]
#[test]
fn character_device() {
    insta::assert_snapshot!("dev_zero", expect(EXIT_BAD_INPUT, &["repro", "/dev/zero"]));
}

#[test]
fn oversize_file() {
    let file = scratch("oversize").join("big.scn");
    std::fs::write(&file, vec![b'\n'; MAX_INPUT_BYTES as usize + 1]).unwrap();
    let path = file.to_str().unwrap();
    insta::assert_snapshot!("oversize", expect(EXIT_BAD_INPUT, &["repro", path]));
    // At the limit exactly, the file is read (an empty scenario: blank lines only).
    std::fs::write(&file, vec![b'\n'; MAX_INPUT_BYTES as usize]).unwrap();
    expect(EXIT_PASS, &["run", path]);
}

#[test]
fn unknown_or_unused_options() {
    insta::assert_snapshot!(
        "unknown_option",
        expect(EXIT_BAD_INPUT, &["run", "--fast", "../corpus/scenarios/teardown.scn"])
    );
    insta::assert_snapshot!(
        "out_given_to_run",
        expect(EXIT_BAD_INPUT, &["run", "--out", "x", "../corpus/scenarios/teardown.scn"])
    );
    insta::assert_snapshot!(
        "check_given_to_repro",
        expect(EXIT_BAD_INPUT, &["repro", "--check", "../corpus/scenarios/teardown.scn"])
    );
    insta::assert_snapshot!("unknown_command", expect(EXIT_BAD_INPUT, &["rnu", "x.scn"]));
}

#[test]
fn unknown_planted_bug() {
    insta::assert_snapshot!(
        "unknown_planted_bug",
        ids_listed(expect(
            EXIT_BAD_INPUT,
            &["run", "--plant", "X9", "../corpus/scenarios/teardown.scn"]
        ))
    );
}

#[cfg(not(feature = "planted-bugs"))]
#[test]
fn planted_bug_in_a_build_without_them() {
    insta::assert_snapshot!(
        "planted_bug_not_compiled",
        expect(EXIT_BAD_INPUT, &["run", "--plant", "s5", "../corpus/scenarios/teardown.scn"])
    );
}

#[test]
fn text_parse_error() {
    let file = scratch("parse").join("typo.txt");
    std::fs::write(&file, "config devices=1\nassign 0\nmapp 0x200 0x10 0 rw\n").unwrap();
    let path = file.to_str().unwrap();
    insta::assert_snapshot!("parse_error_run", expect(EXIT_BAD_INPUT, &["run", path]));
    insta::assert_snapshot!("parse_error_repro", expect(EXIT_BAD_INPUT, &["repro", path]));
}

#[test]
fn invalid_utf8() {
    let file = scratch("utf8").join("latin1.scn");
    std::fs::write(&file, b"# d\xE9j\xE0 vu\nassign 0\n").unwrap();
    insta::assert_snapshot!(
        "invalid_utf8",
        expect(EXIT_BAD_INPUT, &["run", file.to_str().unwrap()])
    );
}

#[test]
fn raw_bytes_given_to_run() {
    insta::assert_snapshot!(
        "raw_bytes_to_run",
        expect(EXIT_BAD_INPUT, &["run", "../corpus/differential/teardown"])
    );
}

#[test]
fn repro_recognises_text_by_content_whatever_the_name() {
    let dir = scratch("names");
    let scenario = std::fs::read("../corpus/scenarios/teardown.scn").unwrap();
    for (name, snapshot) in
        [("teardown.txt", "txt"), ("TEARDOWN.SCN", "upper_case_scn"), ("teardown", "no_extension")]
    {
        let file = dir.join(name);
        std::fs::write(&file, &scenario).unwrap();
        let transcript = expect(EXIT_PASS, &["repro", file.to_str().unwrap()]);
        insta::assert_snapshot!(format!("repro_text_named_{snapshot}"), transcript);
    }
}

#[test]
fn repro_decodes_a_raw_fuzz_input() {
    insta::assert_snapshot!(
        "repro_raw",
        expect(EXIT_PASS, &["repro", "../corpus/differential/neighbour_superpages"])
    );
}

#[test]
fn max_ops_decodes_a_raw_input_as_the_limited_target_does() {
    let input = "../corpus/differential/neighbour_superpages";
    let full = expect(EXIT_PASS, &["repro", input]);
    let limited = expect(EXIT_PASS, &["repro", "--max-ops", "2", input]);
    // The decoded scenario's op lines: after its `config` line, up to the PASS line.
    let ops = |t: &str| {
        let after_config = t.lines().skip_while(|l| !l.starts_with("config ")).skip(1);
        after_config.take_while(|l| !l.starts_with("PASS")).count()
    };
    assert!(ops(&full) > 2, "{full}");
    assert_eq!(ops(&limited), 2, "{limited}");
    assert!(limited.contains("decoded to this scenario of at most 2 operations"), "{limited}");
    let bad = expect(EXIT_BAD_INPUT, &["repro", "--max-ops", "1025", input]);
    assert!(bad.contains("1025 is not in 1..=1024"), "{bad}");
}

#[test]
fn as_forces_an_interpretation() {
    let (status, transcript) =
        ptdiff(&["repro", "--as", "bytes", "../corpus/scenarios/teardown.scn"]);
    assert!(status == EXIT_PASS || status == EXIT_FINDING, "{transcript}");
    let size = std::fs::metadata("../corpus/scenarios/teardown.scn").unwrap().len();
    assert!(transcript.contains(&format!(
        "# ../corpus/scenarios/teardown.scn: a raw fuzz input of {size} bytes (--as bytes)"
    )));
    let transcript =
        expect(EXIT_BAD_INPUT, &["repro", "--as", "text", "../corpus/differential/teardown"]);
    assert!(transcript.contains("../corpus/differential/teardown:1:1: "), "{transcript}");
}

#[test]
fn run_a_directory() {
    let dir = scratch("dir");
    let scenario = std::fs::read("../corpus/scenarios/teardown.scn").unwrap();
    std::fs::write(dir.join("b.scn"), &scenario).unwrap();
    std::fs::write(dir.join("A.SCN"), &scenario).unwrap();
    std::fs::write(dir.join("c.scn"), "assign 9\n").unwrap();
    std::fs::write(dir.join("notes.md"), "not a scenario").unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    insta::assert_snapshot!(
        "run_directory",
        expect(EXIT_BAD_INPUT, &["run", dir.to_str().unwrap()])
    );
    let empty = scratch("empty");
    insta::assert_snapshot!(
        "run_empty_directory",
        expect(EXIT_BAD_INPUT, &["run", empty.to_str().unwrap()])
    );
}

#[cfg(feature = "planted-bugs")]
#[test]
fn finding_report() {
    insta::assert_snapshot!(
        "finding_report",
        expect(
            EXIT_FINDING,
            &["run", "--plant", "S5", "../corpus/scenarios/neighbour_superpages.scn"]
        )
    );
}

#[cfg(unix)]
#[test]
fn a_file_name_that_is_not_utf8_is_no_problem() {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::OsStr::from_bytes(b"no-such-\xFF.scn");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(cli::main([std::ffi::OsStr::new("run"), name], &mut out, &mut err), EXIT_BAD_INPUT);
    assert_eq!(String::from_utf8_lossy(&err), "no-such-\u{FFFD}.scn: no such file or directory\n");
}

#[test]
fn run_and_repro_run_concurrent_scenarios() {
    insta::assert_snapshot!(
        "run_concurrent",
        expect(EXIT_PASS, &["run", "../corpus/scenarios/conc-two-maps-one-dfn.scn"])
    );
    insta::assert_snapshot!(
        "repro_concurrent_trace",
        expect(EXIT_PASS, &["repro", "--trace", "../corpus/scenarios/conc-assign-racing-walk.scn"])
    );
    insta::assert_snapshot!(
        "repro_concurrent_raw",
        expect(EXIT_PASS, &["repro", "--concurrent", "../corpus/concurrent/conc-two-maps-one-dfn"])
    );
}

#[test]
fn explore_runs_every_schedule() {
    let file = "../corpus/scenarios/conc-assign-racing-walk.scn";
    insta::assert_snapshot!("explore_clean", expect(EXIT_PASS, &["explore", file]));
    let transcript = expect(EXIT_PASS, &["explore", "--preemptions", "1", file]);
    assert!(transcript.contains("explored 3 schedules (1 with 0 preemptions, 2 with 1)"));
    insta::assert_snapshot!(
        "explore_incomplete",
        expect(EXIT_BAD_INPUT, &["explore", "--max-schedules", "5", file])
    );
    insta::assert_snapshot!(
        "explore_too_many_preemptions",
        expect(EXIT_BAD_INPUT, &["explore", "--preemptions", "9", file])
    );
    insta::assert_snapshot!(
        "explore_sequential",
        expect(EXIT_BAD_INPUT, &["explore", "../corpus/scenarios/teardown.scn"])
    );
}

/// The 2019 story from the command line: the lock rules blame the grower on the schedule as
/// written; with them off, the consequence (a DMA fault on a mapped DFN) is what is found.
#[cfg(feature = "planted-bugs")]
#[test]
fn lock_rules_can_be_switched_off_to_see_the_consequence() {
    let file = "../corpus/scenarios/conc-seed-grow-in-map.scn";
    let on = expect(EXIT_FINDING, &["run", "--plant", "SEED-GROW-IN-MAP", file]);
    assert!(on.contains("FINDING [lock-rule] in `dynamic`"), "{on}");
    assert!(on.contains("got:      device-list read holding {domain}"), "{on}");
    let off = ["run", "--plant", "SEED-GROW-IN-MAP", "--lock-rules", "off", file];
    let off = expect(EXIT_FINDING, &off);
    assert!(off.contains("FINDING [linearizability] in `dynamic`"), "{off}");
    assert!(off.contains("expected: device 1 reads dfn 0x40000"), "{off}");
    expect(EXIT_PASS, &["run", "--lock-rules", "off", file]);
}

#[cfg(feature = "planted-bugs")]
#[test]
fn explore_reports_a_finding_with_its_schedule() {
    insta::assert_snapshot!(
        "explore_finding",
        expect(
            EXIT_FINDING,
            &["explore", "--plant", "R2", "../corpus/scenarios/conc-assign-racing-walk.scn"]
        )
    );
}

#[cfg(feature = "planted-bugs")]
#[test]
fn minimize_shrinks_a_concurrent_scenario_into_a_regression() {
    let dir = scratch("conc-minimize");
    let file = dir.join("split.scn");
    std::fs::write(
        &file,
        "config initial_levels=3 max_levels=4 devices=1\nassign 0\nmap 0x200 0x400 9 r\n\
         thread 0 p2m unmap 0x201 0\nthread 1 p2m map 0x1000 0x100 0 rw\n\
         preempt t0.0#2 -> t1\nwalk dev 0 dfn 0x202 r\n",
    )
    .unwrap();
    let out = dir.join("regressions");
    let args = ["minimize", "--plant", "SPLIT-RW", "--out", out.to_str().unwrap()];
    let transcript = expect(EXIT_FINDING, &[&args[..], &[file.to_str().unwrap()]].concat());
    insta::assert_snapshot!("minimize_concurrent", transcript);
    let saved = out.join("conc-linearizability-dynamic-split-rw-1.scn");
    let regression = std::fs::read_to_string(saved).unwrap();
    ptdiff::repro::conc_regression::ConcRegression::parse(&regression).unwrap();
}
