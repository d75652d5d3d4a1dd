//! Hostile and mistaken input: every file of `tests/malformed/` goes through `ptdiff run`, both
//! in-process and as a real `ptdiff` process, and must be refused with exit status 2, no panic,
//! and the position and text its line of `tests/malformed/expect.txt` gives. Files that cannot
//! be checked in (too large, FIFOs, devices, directories) are made at test time.

use ptdiff::cli::{self, EXIT_BAD_INPUT, MAX_INPUT_BYTES};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FOLDER: &str = "tests/malformed";
const MANIFEST: &str = "expect.txt";

/// One expectation: `ptdiff run path` exits 2 and stderr holds `path:line:col: ` (or `path: `
/// when `position` is `None`) and `text`.
struct Case {
    path: String,
    position: Option<(usize, usize)>,
    text: String,
}

impl Case {
    /// What is wrong with `stderr`, if anything.
    fn check_stderr(&self, stderr: &str) -> Option<String> {
        let prefix = match self.position {
            Some((line, column)) => format!("{}:{line}:{column}: ", self.path),
            None => format!("{}: ", self.path),
        };
        let lines: Vec<&str> = stderr.lines().collect();
        if !lines.iter().any(|l| l.starts_with(&prefix)) {
            return Some(format!("no line starts with `{prefix}`"));
        }
        if !stderr.contains(&self.text) {
            return Some(format!("no `{}`", self.text));
        }
        if stderr.contains("panicked") {
            return Some("a panic".to_string());
        }
        None
    }

    /// Runs the case in-process, then as a process; returns the failures.
    fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status =
            catch_unwind(AssertUnwindSafe(|| cli::main(["run", &self.path], &mut out, &mut err)));
        let stderr = String::from_utf8_lossy(&err);
        match status {
            Err(_) => failures.push(format!("{}: in-process: panicked", self.path)),
            Ok(status) if status != EXIT_BAD_INPUT => {
                failures.push(format!("{}: in-process: exit {status}, not 2", self.path));
            }
            Ok(_) => {}
        }
        if let Some(problem) = self.check_stderr(&stderr) {
            failures.push(format!("{}: in-process: {problem} in stderr:\n{stderr}", self.path));
        }
        match run_process(&self.path) {
            Ok((code, stderr)) => {
                if code != Some(i32::from(EXIT_BAD_INPUT)) {
                    failures
                        .push(format!("{}: process: exit {code:?}, not 2:\n{stderr}", self.path));
                }
                if let Some(problem) = self.check_stderr(&stderr) {
                    failures
                        .push(format!("{}: process: {problem} in stderr:\n{stderr}", self.path));
                }
            }
            Err(e) => failures.push(format!("{}: process: {e}", self.path)),
        }
        failures
    }
}

/// Runs the `ptdiff` binary on `path`; gives up (and kills it) if it has not ended after a
/// minute, which only a read blocked forever would take.
fn run_process(path: &str) -> Result<(Option<i32>, String), String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ptdiff"))
        .args(["run", path])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start ptdiff: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("still running after a minute: blocked on its input".to_string());
            }
            Err(e) => return Err(format!("cannot wait for ptdiff: {e}")),
        }
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    Ok((output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned()))
}

/// The cases of the manifest, with paths relative to the package directory.
fn manifest() -> Vec<Case> {
    let text = std::fs::read_to_string(Path::new(FOLDER).join(MANIFEST)).unwrap();
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 3, "{MANIFEST}: not FILE<TAB>LINE:COL<TAB>text: {line:?}");
            let position = match fields[1] {
                "-" => None,
                at => {
                    let (line_no, column) = at.split_once(':').unwrap_or_else(|| {
                        panic!("{MANIFEST}: `{at}` is neither LINE:COL nor `-`")
                    });
                    Some((line_no.parse().unwrap(), column.parse().unwrap()))
                }
            };
            Case { path: format!("{FOLDER}/{}", fields[0]), position, text: fields[2].to_string() }
        })
        .collect()
}

fn assert_all_refused(cases: &[Case]) {
    let failures: Vec<String> = cases.iter().flat_map(Case::failures).collect();
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_file_of_the_folder_has_an_expectation_and_back() {
    let mut files: Vec<String> = std::fs::read_dir(FOLDER)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != MANIFEST && !name.starts_with('.'))
        .map(|name| format!("{FOLDER}/{name}"))
        .collect();
    files.sort();
    let mut listed: Vec<String> = manifest().into_iter().map(|case| case.path).collect();
    listed.sort();
    assert_eq!(files, listed, "the files of {FOLDER} and the lines of {MANIFEST} differ");
}

#[test]
fn every_malformed_file_is_refused_with_its_position() {
    let cases = manifest();
    assert!(cases.len() >= 6);
    assert_all_refused(&cases);
}

/// A scratch directory for this test, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("malformed").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn case(path: &Path, text: &str) -> Case {
    Case { path: path.to_str().unwrap().to_string(), position: None, text: text.to_string() }
}

#[test]
fn files_over_the_limit_are_refused_unread() {
    let file = scratch("oversize").join("big.scn");
    std::fs::write(&file, vec![b'#'; MAX_INPUT_BYTES as usize + 1]).unwrap();
    assert_all_refused(&[case(
        &file,
        &format!(
            "is {} bytes, over the input limit of {MAX_INPUT_BYTES} bytes",
            MAX_INPUT_BYTES + 1
        ),
    )]);
}

#[test]
fn a_directory_without_scenarios_is_refused() {
    let dir = scratch("no_scenarios");
    std::fs::write(dir.join("notes.txt"), "assign 0\n").unwrap();
    assert_all_refused(&[case(&dir, "no .scn file in this directory")]);
}

#[cfg(unix)]
#[test]
fn special_files_are_refused_without_blocking() {
    let dir = scratch("special");
    let fifo = dir.join("pipe.scn");
    let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `name` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let link = dir.join("zero.scn");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    assert_all_refused(&[
        case(&fifo, "is a FIFO (named pipe), not a regular file"),
        case(Path::new("/dev/zero"), "is a character device, not a regular file"),
        case(&link, "is a character device, not a regular file"),
    ]);
}
