//! `cargo xtask fresh-clone [--seconds N]`: runs the README's fuzzing commands verbatim in the
//! state a fresh clone is in, so that the first commands a user types keep working.
//!
//! The clone is `target/fresh-clone/`: every file `git ls-files --cached --others
//! --exclude-standard` lists (what a clone of the committed tree has, with the working tree's
//! edits), and nothing else but the build folders [`KEPT`] from an earlier check (so that a
//! second check does not rebuild from nothing). In particular it has no `fuzz/corpus/` and no
//! `fuzz/artifacts/`.
//!
//! Every command of every ```` ```sh ```` block in the README sections [`SECTIONS`] runs there,
//! in order, block by block (a `cd` changes the folder for the rest of its block), as written
//! except that fuzzing is bounded ([`bounded`]): `cargo fuzz run` gets
//! `-max_total_time=N`, `cargo afl fuzz` gets `-V N`, `cargo xtask fuzz` gets `--seconds N`.
//! AFL runs with `AFL_NO_UI`, `AFL_NO_AFFINITY`, `AFL_SKIP_CPUFREQ` and
//! `AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES` set (machine settings, not the commands). A command
//! with `+nightly` is skipped, and said so, when no nightly toolchain is installed.

use crate::tools::{root, works};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// README sections (`## ` headings, with their `### ` subsections) whose commands are run.
pub const SECTIONS: [&str; 1] = ["Fuzzing"];
/// Build folders of the clone kept from one check to the next.
const KEPT: [&str; 3] = ["target", "fuzz/target", "fuzz/afl/target"];
/// Default fuzzing seconds per command.
const DEFAULT_SECONDS: u64 = 5;
/// A command still running after this long is killed and fails the check.
const COMMAND_LIMIT: Duration = Duration::from_secs(20 * 60);
/// Environment of every command (AFL's checks of machine settings; no user interface).
const AFL_ENV: [(&str, &str); 4] = [
    ("AFL_NO_UI", "1"),
    ("AFL_NO_AFFINITY", "1"),
    ("AFL_SKIP_CPUFREQ", "1"),
    ("AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1"),
];

/// The commands of each ```` ```sh ```` block of `readme`'s sections `sections`, in order:
/// lines ending in `\` joined to the next, blank lines and comment-only lines dropped.
pub fn readme_blocks(readme: &str, sections: &[&str]) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut in_section = false;
    let mut in_other_fence = false;
    let mut block: Option<Vec<String>> = None;
    let mut pending = String::new();
    for line in readme.lines() {
        let fence = line.trim_start().starts_with("```");
        if let Some(commands) = block.as_mut() {
            if fence {
                blocks.push(std::mem::take(commands));
                block = None;
            } else if let Some(head) = line.strip_suffix('\\') {
                pending.push_str(head);
            } else {
                let command = format!("{pending}{line}");
                pending.clear();
                let command = command.trim();
                if !command.is_empty() && !command.starts_with('#') {
                    commands.push(command.to_string());
                }
            }
        } else if fence {
            if in_section && !in_other_fence && line.trim() == "```sh" {
                block = Some(Vec::new());
            } else {
                in_other_fence = !in_other_fence;
            }
        } else if let (false, Some(title)) = (in_other_fence, line.strip_prefix("## ")) {
            in_section = sections.contains(&title.trim());
        }
    }
    blocks
}

/// `command` without its trailing ` # comment`.
fn strip_comment(command: &str) -> &str {
    command.find(" #").map_or(command, |i| command[..i].trim_end())
}

/// `command` as the check runs it: fuzzing bounded to `seconds`, all else unchanged.
pub fn bounded(command: &str, seconds: u64) -> String {
    let cmd = strip_comment(command);
    // The words after any leading `VAR=value` settings and `cargo`'s `+toolchain`.
    let mut words = cmd.split_whitespace().skip_while(|w| w.contains('=') && !w.starts_with('-'));
    let cargo = words.next() == Some("cargo");
    let words: Vec<&str> = words.filter(|w| !w.starts_with('+')).collect();
    let is = |tool: &[&str]| cargo && words.starts_with(tool);
    if is(&["fuzz", "run"]) {
        if words.contains(&"--") {
            format!("{cmd} -max_total_time={seconds}")
        } else {
            format!("{cmd} -- -max_total_time={seconds}")
        }
    } else if is(&["afl", "fuzz"]) {
        cmd.replacen("afl fuzz", &format!("afl fuzz -V {seconds}"), 1)
    } else if is(&["xtask", "fuzz"]) {
        format!("{cmd} --seconds {seconds}")
    } else {
        cmd.to_string()
    }
}

/// The folder `cd ARG` leads to from `dir`, when `command` is a plain `cd`.
fn cd_target(command: &str, dir: &Path) -> Option<PathBuf> {
    let cmd = strip_comment(command);
    let rest = cmd.strip_prefix("cd ")?;
    (!rest.contains(['&', ';', '|'])).then(|| dir.join(rest.trim()))
}

/// Deletes everything under `dir` but the [`KEPT`] folders (paths relative to `clone`).
fn clear(clone: &Path, dir: &Path) -> Result<(), String> {
    let Ok(entries) = fs::read_dir(dir) else { return Ok(()) };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let rel = path.strip_prefix(clone).unwrap_or(&path).to_string_lossy().into_owned();
        if KEPT.contains(&rel.as_str()) {
            continue;
        }
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && KEPT.iter().any(|k| k.starts_with(&format!("{rel}/"))) {
            clear(clone, &path)?;
        } else if is_dir {
            fs::remove_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        } else {
            fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// Makes `clone` hold exactly the files a clone has (plus [`KEPT`]); returns how many.
fn prepare(clone: &Path) -> Result<usize, String> {
    let root = root();
    let out = Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(&root)
        .output()
        .map_err(|e| format!("cannot run git ls-files: {e}"))?;
    if !out.status.success() {
        return Err(format!("git ls-files failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    fs::create_dir_all(clone).map_err(|e| format!("{}: {e}", clone.display()))?;
    clear(clone, clone)?;
    let mut copied = 0;
    for rel in out.stdout.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let rel = String::from_utf8_lossy(rel);
        let from = root.join(rel.as_ref());
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        let to = clone.join(rel.as_ref());
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        fs::copy(&from, &to).map_err(|e| format!("{}: {e}", from.display()))?;
        copied += 1;
    }
    Ok(copied)
}

/// Runs `command` with `bash -c` in `dir`, output to `log`; Err when it fails or overruns.
fn run_command(command: &str, dir: &Path, log: &Path) -> Result<Duration, String> {
    let file = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| format!("{}: {e}", log.display()))?;
    let start = Instant::now();
    let mut child = Command::new("bash")
        .args(["-c", command])
        .current_dir(dir)
        .envs(AFL_ENV)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start bash: {e}"))?;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("{command}: {e}"))? {
            return if status.success() {
                Ok(start.elapsed())
            } else {
                Err(format!("exited with {status}"))
            };
        }
        if start.elapsed() > COMMAND_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {} s; killed", COMMAND_LIMIT.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The last `n` lines of the file at `path`.
fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `cargo xtask fresh-clone [--seconds N]`.
pub fn main(args: &[String]) -> Result<(), String> {
    let seconds = match args {
        [] => DEFAULT_SECONDS,
        [flag, n] if flag == "--seconds" => {
            n.parse().ok().filter(|&s| s > 0).ok_or("--seconds needs a positive number")?
        }
        _ => return Err(format!("unknown arguments {args:?} (fresh-clone [--seconds N])")),
    };
    let start = Instant::now();
    let readme =
        fs::read_to_string(root().join("README.md")).map_err(|e| format!("README.md: {e}"))?;
    let blocks = readme_blocks(&readme, &SECTIONS);
    if blocks.iter().all(Vec::is_empty) {
        return Err(format!("no ```sh commands in the README sections {SECTIONS:?}"));
    }
    let clone = root().join("target/fresh-clone");
    let logs = root().join("target/fresh-clone-logs");
    let _ = fs::remove_dir_all(&logs);
    fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let files = prepare(&clone)?;
    eprintln!("xtask: fresh clone of {files} files in {}", clone.display());
    let nightly = works(Command::new("cargo").args(["+nightly", "--version"]));
    let (mut ran, mut skipped) = (0, 0);
    for block in &blocks {
        let mut dir = clone.clone();
        for command in block {
            if let Some(next) = cd_target(command, &dir) {
                dir = next;
                continue;
            }
            let shown = bounded(command, seconds);
            if !nightly && shown.contains("+nightly") {
                println!("skipped (no nightly toolchain): {shown}");
                skipped += 1;
                continue;
            }
            ran += 1;
            let log = logs.join(format!("{ran:02}.log"));
            let rel_dir = dir.strip_prefix(&clone).unwrap_or(&dir).display().to_string();
            let here = if rel_dir.is_empty() { ".".to_string() } else { rel_dir };
            match run_command(&shown, &dir, &log) {
                Ok(took) => println!("ok {:>4} s  ({here}) {shown}", took.as_secs()),
                Err(e) => {
                    return Err(format!(
                        "README command failed in a fresh clone ({here}): {shown}\n{e}; last \
                         lines of {}:\n{}",
                        log.display(),
                        tail(&log, 30)
                    ))
                }
            }
        }
    }
    println!(
        "fresh-clone: {ran} README commands ran verbatim in a fresh clone ({skipped} skipped), \
         fuzzing {seconds} s each ({} s)",
        start.elapsed().as_secs()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = "# t\n## Set-up\n```sh\ncargo xtask test\n```\n## Fuzzing\ntext\n\
        ```sh\ncargo xtask seed-corpus   # once\n\n# a comment\ncd fuzz\ncargo +nightly fuzz \\\n  run x\n```\n\
        ### AFL\n```sh\ncargo afl fuzz -i in -o out bin\n```\n```text\nnot run\n```\n## Other\n```sh\nrm -rf /\n```\n";

    #[test]
    fn only_sh_blocks_of_the_chosen_sections_are_read() {
        assert_eq!(
            readme_blocks(README, &["Fuzzing"]),
            [
                vec!["cargo xtask seed-corpus   # once", "cd fuzz", "cargo +nightly fuzz   run x"],
                vec!["cargo afl fuzz -i in -o out bin"],
            ]
        );
        assert_eq!(readme_blocks(README, &["Set-up"]), [vec!["cargo xtask test"]]);
    }

    #[test]
    fn fuzzing_commands_are_bounded_before_their_comment() {
        assert_eq!(
            bounded("cargo +nightly fuzz run differential   # ASan", 5),
            "cargo +nightly fuzz run differential -- -max_total_time=5"
        );
        assert_eq!(
            bounded("cargo fuzz run -s none scenario_text -- -dict=oss-fuzz/scenario_text.dict", 7),
            "cargo fuzz run -s none scenario_text -- -dict=oss-fuzz/scenario_text.dict -max_total_time=7"
        );
        assert_eq!(
            bounded("cargo afl fuzz -M main -i in -o out target/release/differential", 5),
            "cargo afl fuzz -V 5 -M main -i in -o out target/release/differential"
        );
        assert_eq!(
            bounded("cargo xtask fuzz --jobs 2", 5),
            "cargo xtask fuzz --jobs 2 --seconds 5"
        );
        assert_eq!(bounded("cargo xtask seed-corpus  # once", 5), "cargo xtask seed-corpus");
        assert_eq!(bounded("cargo afl build --release", 5), "cargo afl build --release");
        assert_eq!(bounded("cargo fuzz list", 5), "cargo fuzz list");
        assert_eq!(
            bounded("PTDIFF_PLANT=S5 cargo fuzz run --features planted-bugs differential", 5),
            "PTDIFF_PLANT=S5 cargo fuzz run --features planted-bugs differential -- -max_total_time=5"
        );
        assert_eq!(bounded("echo cargo fuzz run x", 5), "echo cargo fuzz run x");
    }

    #[test]
    fn plain_cd_moves_and_compound_commands_do_not() {
        let base = Path::new("/c");
        assert_eq!(cd_target("cd fuzz/afl   # AFL", base), Some(PathBuf::from("/c/fuzz/afl")));
        assert_eq!(cd_target("cd fuzz && cargo fuzz list", base), None);
        assert_eq!(cd_target("cargo fuzz list", base), None);
    }

    #[test]
    fn the_readme_has_fuzzing_commands_and_seeds_before_cargo_fuzz_runs() {
        let readme = fs::read_to_string(root().join("README.md")).unwrap();
        let commands: Vec<String> = readme_blocks(&readme, &SECTIONS).concat();
        let seed = commands.iter().position(|c| c.starts_with("cargo xtask seed-corpus"));
        let run = commands.iter().position(|c| bounded(c, 1).contains("-max_total_time="));
        assert!(seed.is_some() && run.is_some(), "{commands:?}");
        assert!(seed < run, "the README must seed fuzz/corpus/ before the first cargo fuzz run");
        assert!(commands.iter().any(|c| c.contains("-dict=oss-fuzz/scenario_text.dict")));
        assert!(commands.iter().any(|c| c.starts_with("cargo afl fuzz -M ")));
        assert!(commands.iter().any(|c| c.starts_with("cargo xtask fuzz --jobs ")));
    }
}
