//! The concurrent text parser: one line at a time, then the rules that need the whole file,
//! each error at the word at fault.

use crate::conc::scenario::{
    Anchor, ConcError, ConcScenario, Preempt, PreemptError, TaskRef, ThreadOp, ThreadOpError,
    WalkError, WalkSpec, MAX_PREEMPTS, MAX_SETUP_OPS, MAX_THREADS, MAX_THREAD_OPS, MAX_WALKS,
    SETUP_ONLY,
};
use crate::conc::site::Site;
use crate::scenario::op_table::{by_keyword, OPS};
use crate::scenario::repeat::{run_entries, run_length};
use crate::scenario::text::line::{echo, Line, Word};
use crate::scenario::text::{parse_config, parse_op, value, ParseError};
use crate::scenario::{Config, Op, MAX_RUN_ENTRIES, MAX_RUN_OPS};

/// The first words of the lines of a concurrent phase.
const PHASE_WORDS: [&str; 4] = ["thread", "walk", "preempt", "shadow"];

/// Where a word was: line and column.
#[derive(Clone, Copy, Debug, Default)]
struct At {
    line: usize,
    column: usize,
}

impl At {
    fn of(line: &Line<'_>, word: &Word<'_>) -> At {
        At { line: line.number, column: word.column }
    }

    fn error(self, message: impl Into<String>) -> ParseError {
        ParseError { line: self.line, column: self.column, message: message.into() }
    }
}

/// Where the parts of a walk or preempt line were, for errors found once the file is read.
#[derive(Clone, Copy, Debug, Default)]
struct Spans {
    keyword: At,
    anchor: At,
    /// A walk's device, a preempt's target.
    other: At,
}

/// What the lines read so far hold, with where each part was.
#[derive(Default)]
pub(super) struct Parser {
    config: Option<(Config, usize)>,
    /// The first line that is not `config`.
    first_line: Option<usize>,
    setup: Vec<(Op, At)>,
    /// The first line of the concurrent phase.
    phase_line: Option<usize>,
    threads: [Vec<(ThreadOp, At)>; MAX_THREADS],
    /// Where each thread's number was on its first line.
    thread_first: [Option<At>; MAX_THREADS],
    walks: Vec<(WalkSpec, Spans)>,
    preempts: Vec<(Preempt, Spans)>,
    shadow: Option<(bool, usize)>,
}

impl Parser {
    fn config(&self) -> Config {
        self.config.map(|(c, _)| c).unwrap_or_default()
    }

    /// Reads one line.
    pub fn line(&mut self, line: &Line<'_>) -> Result<(), ParseError> {
        let Some(&first) = line.words.first() else { return Ok(()) };
        let at = At::of(line, &first);
        if first.text == "config" {
            if let Some((_, before)) = self.config {
                return Err(
                    at.error(format!("a second `config` line (the first is line {before})"))
                );
            }
            if let Some(before) = self.first_line {
                return Err(at.error(format!(
                    "`config` must come before the first operation (line {before})"
                )));
            }
            self.config = Some((parse_config(line)?, line.number));
            return Ok(());
        }
        self.first_line.get_or_insert(line.number);
        if PHASE_WORDS.contains(&first.text) {
            self.phase_line.get_or_insert(line.number);
        }
        match first.text {
            "thread" => self.thread(line, at),
            "walk" => self.walk(line, at),
            "preempt" => self.preempt(line, at),
            "shadow" => self.shadow(line, at),
            keyword if by_keyword(keyword).is_some() => self.setup_op(line, at),
            keyword => {
                let known: Vec<&str> = ["config"]
                    .into_iter()
                    .chain(PHASE_WORDS)
                    .chain(OPS.iter().map(|s| s.keyword))
                    .collect();
                Err(at.error(format!(
                    "unknown operation {} (known: {})",
                    echo(keyword),
                    known.join(", ")
                )))
            }
        }
    }

    fn setup_op(&mut self, line: &Line<'_>, at: At) -> Result<(), ParseError> {
        if let Some(phase) = self.phase_line {
            return Err(at.error(format!(
                "setup operations come before the first `thread`, `walk`, `preempt` or `shadow` \
                 line (line {phase})"
            )));
        }
        if self.setup.len() == MAX_SETUP_OPS {
            return Err(at.error(ConcError::TooManySetupOps(MAX_SETUP_OPS + 1).to_string()));
        }
        self.setup.push((parse_op(line, &self.config())?, at));
        Ok(())
    }

    /// `thread N SITE OP...`.
    fn thread(&mut self, line: &Line<'_>, keyword: At) -> Result<(), ParseError> {
        let max = (MAX_THREADS - 1) as u64;
        let number = word(line, 1, || format!("expected a thread number (0 to {max})"))?;
        let t = value::number(number.text, "a thread number", max)
            .map_err(|m| At::of(line, &number).error(m))? as usize;
        let site_word = word(line, 2, || format!("expected a call site ({})", site_list()))?;
        let site = Site::from_word(site_word.text).ok_or_else(|| {
            At::of(line, &site_word).error(format!(
                "expected a call site ({}), found {}",
                site_list(),
                echo(site_word.text)
            ))
        })?;
        let op_word = word(line, 3, || "expected an operation".to_string())?;
        let op_at = At::of(line, &op_word);
        if by_keyword(op_word.text).is_none() {
            let known: Vec<&str> =
                OPS.iter().map(|s| s.keyword).filter(|k| !SETUP_ONLY.contains(k)).collect();
            return Err(op_at.error(format!(
                "unknown operation {} (known in a thread: {})",
                echo(op_word.text),
                known.join(", ")
            )));
        }
        if let Some(&keyword) = SETUP_ONLY.iter().find(|&&k| k == op_word.text) {
            return Err(op_at.error(ThreadOpError::SetupOnly(keyword).to_string()));
        }
        let op_line = Line {
            number: line.number,
            words: line.words[3..].to_vec(),
            end_column: line.end_column,
        };
        let op = parse_op(&op_line, &self.config())?;
        if let Op::Map { missed: true, .. } = op {
            let missed = line.words.iter().rfind(|w| w.text == "missed").unwrap_or(&op_word);
            return Err(At::of(line, missed).error(ThreadOpError::Missed.to_string()));
        }
        if self.threads[t].len() == MAX_THREAD_OPS {
            let count = MAX_THREAD_OPS + 1;
            return Err(keyword.error(ConcError::ThreadOps { thread: t, count }.to_string()));
        }
        self.thread_first[t].get_or_insert(At::of(line, &number));
        self.threads[t].push((ThreadOp { site, op }, op_at));
        Ok(())
    }

    /// `walk [ANCHOR] dev DEV dfn DFN ACCESS`.
    fn walk(&mut self, line: &Line<'_>, keyword: At) -> Result<(), ParseError> {
        const USAGE: &str = "walk [ANCHOR] dev DEV dfn DFN ACCESS";
        if self.walks.len() == MAX_WALKS {
            return Err(keyword.error(ConcError::TooManyWalks(MAX_WALKS + 1).to_string()));
        }
        let mut next = 1;
        let mut spans = Spans { keyword, anchor: keyword, other: keyword };
        let first = word(line, 1, || "expected an anchor (as in t0.1#5) or `dev`".to_string())?;
        let at = if first.text == "dev" {
            None
        } else {
            next += 1;
            spans.anchor = At::of(line, &first);
            Some(anchor(first.text).map_err(|_| {
                spans.anchor.error(format!(
                    "expected an anchor (as in t0.1#5) or `dev`, found {}",
                    echo(first.text)
                ))
            })?)
        };
        literal(line, next, "dev")?;
        let dev = word(line, next + 1, || "expected a device".to_string())?;
        spans.other = At::of(line, &dev);
        let dev = value::number(dev.text, "a device", u16::MAX.into())
            .map_err(|m| spans.other.error(m))? as u16;
        literal(line, next + 2, "dfn")?;
        let dfn = word(line, next + 3, || "expected a dfn".to_string())?;
        let dfn =
            value::number(dfn.text, "a dfn", u64::MAX).map_err(|m| At::of(line, &dfn).error(m))?;
        let access_list = value::perm_list(false);
        let access = word(line, next + 4, || format!("expected an access ({access_list})"))?;
        let access = value::perm(access.text).filter(|p| !p.is_empty()).ok_or_else(|| {
            At::of(line, &access)
                .error(format!("expected an access ({access_list}), found {}", echo(access.text)))
        })?;
        no_more(line, next + 5, USAGE)?;
        self.walks.push((WalkSpec { at, dev, dfn, access }, spans));
        Ok(())
    }

    /// `preempt ANCHOR -> TASK`.
    fn preempt(&mut self, line: &Line<'_>, keyword: At) -> Result<(), ParseError> {
        if self.preempts.len() == MAX_PREEMPTS {
            return Err(keyword.error(ConcError::TooManyPreempts(MAX_PREEMPTS + 1).to_string()));
        }
        let at_word = word(line, 1, || "expected an anchor (as in t0.1#5)".to_string())?;
        let anchor_at = At::of(line, &at_word);
        let at = anchor(at_word.text).map_err(|m| anchor_at.error(m))?;
        literal(line, 2, "->")?;
        let to_word = word(line, 3, || "expected a task (as in t1 or w0)".to_string())?;
        let other = At::of(line, &to_word);
        let to = task(to_word.text).map_err(|m| other.error(m))?;
        no_more(line, 4, "preempt ANCHOR -> TASK")?;
        self.preempts.push((Preempt { at, to }, Spans { keyword, anchor: anchor_at, other }));
        Ok(())
    }

    /// `shadow on|off`.
    fn shadow(&mut self, line: &Line<'_>, keyword: At) -> Result<(), ParseError> {
        if let Some((_, before)) = self.shadow {
            return Err(
                keyword.error(format!("a second `shadow` line (the first is line {before})"))
            );
        }
        let w = word(line, 1, || "expected on or off".to_string())?;
        let on = value::switch(w.text).ok_or_else(|| {
            At::of(line, &w).error(format!("expected on or off, found {}", echo(w.text)))
        })?;
        no_more(line, 2, "shadow on|off")?;
        self.shadow = Some((on, line.number));
        Ok(())
    }

    /// The scenario, once every line is read: the rules that need the whole file.
    pub fn finish(self) -> Result<ConcScenario, ParseError> {
        let count = self.threads.iter().take_while(|t| !t.is_empty()).count();
        if let Some(gap) = (count..MAX_THREADS).find_map(|t| self.thread_first[t].map(|at| (t, at)))
        {
            let (t, at) = gap;
            return Err(at.error(format!(
                "thread {t} without a thread {count} (threads are numbered from 0 without gaps)"
            )));
        }
        if count == 0 {
            let line = self.phase_line.unwrap_or(1);
            return Err(At { line, column: 1 }.error("a concurrent scenario needs a `thread` line"));
        }
        let scenario = ConcScenario {
            config: self.config(),
            setup: self.setup.iter().map(|(op, _)| *op).collect(),
            threads: self.threads[..count]
                .iter()
                .map(|ops| ops.iter().map(|(op, _)| *op).collect())
                .collect(),
            walks: self.walks.iter().map(|(w, _)| *w).collect(),
            preempts: self.preempts.iter().map(|(p, _)| *p).collect(),
            shadow_walks: self.shadow.is_none_or(|(on, _)| on),
        };
        match scenario.validate() {
            Ok(()) => Ok(scenario),
            Err(e) => Err(self.locate(&scenario, e)),
        }
    }

    /// `e`, found by validation, at the word at fault.
    fn locate(&self, s: &ConcScenario, e: ConcError) -> ParseError {
        let fallback = At { line: 1, column: 1 };
        match e {
            ConcError::Walk { index, problem } => {
                let spans = self.walks.get(index).map_or(Spans::default(), |(_, s)| *s);
                let at = match problem {
                    WalkError::Anchor { .. } => spans.anchor,
                    WalkError::Invalid(_) => spans.other,
                };
                let message = match problem {
                    WalkError::Anchor { problem, .. } => problem.to_string(),
                    WalkError::Invalid(problem) => problem.to_string(),
                };
                at.error(message)
            }
            ConcError::Preempt { index, problem, .. } => {
                let spans = self.preempts.get(index).map_or(Spans::default(), |(_, s)| *s);
                let at = match problem {
                    PreemptError::Anchor(..) | PreemptError::SameAnchor { .. } => spans.anchor,
                    PreemptError::NoSuchTarget(_) | PreemptError::ItselfAsTarget(_) => spans.other,
                };
                let message = match problem {
                    PreemptError::Anchor(_, problem) => problem.to_string(),
                    PreemptError::SameAnchor { first } => format!(
                        "the same anchor as the preempt on line {}",
                        self.preempts.get(first).map_or(0, |(_, s)| s.keyword.line)
                    ),
                    problem => problem.to_string(),
                };
                at.error(message)
            }
            ConcError::Setup(ref problem) => {
                let ops = &s.setup;
                let over = (1..=ops.len()).find(|&k| {
                    run_length(&ops[..k]) > MAX_RUN_OPS || run_entries(&ops[..k]) > MAX_RUN_ENTRIES
                });
                let at = over.and_then(|k| self.setup.get(k - 1)).map_or(fallback, |(_, at)| *at);
                at.error(problem.to_string())
            }
            ConcError::TooManyRunEntries(_) => {
                let mut entries = run_entries(&s.setup);
                let over = self.threads.iter().flatten().find(|(op, _)| {
                    entries = entries.saturating_add(op.op.entries());
                    entries > MAX_RUN_ENTRIES
                });
                over.map_or(fallback, |(_, at)| *at).error(e.to_string())
            }
            // Found while reading the lines.
            e => fallback.error(e.to_string()),
        }
    }
}

/// Word `i` of `line`, or the error `expected` at the end of the line.
fn word<'a>(
    line: &Line<'a>,
    i: usize,
    expected: impl FnOnce() -> String,
) -> Result<Word<'a>, ParseError> {
    line.words.get(i).copied().ok_or_else(|| line.error(line.end_column, expected()))
}

/// Word `i` of `line` must be `text`.
fn literal(line: &Line<'_>, i: usize, text: &str) -> Result<(), ParseError> {
    let w = word(line, i, || format!("expected `{text}`"))?;
    if w.text != text {
        return Err(line.error(w.column, format!("expected `{text}`, found {}", echo(w.text))));
    }
    Ok(())
}

/// `line` has no word from `i` on.
fn no_more(line: &Line<'_>, i: usize, usage: &str) -> Result<(), ParseError> {
    match line.words.get(i) {
        Some(extra) => {
            Err(line
                .error(extra.column, format!("unexpected {} (usage: {usage})", echo(extra.text))))
        }
        None => Ok(()),
    }
}

fn site_list() -> String {
    let words: Vec<&str> = Site::ALL.iter().map(|s| s.word()).collect();
    words.join(", ")
}

/// `t0.1#5`.
fn anchor(text: &str) -> Result<Anchor, String> {
    let bad = || format!("expected an anchor TASK.OP#ACCESS (as in t0.1#5), found {}", echo(text));
    let (task_text, rest) = text.split_once('.').ok_or_else(bad)?;
    let (op, access) = rest.split_once('#').ok_or_else(bad)?;
    let task = task(task_text).map_err(|_| bad())?;
    let op = value::number(op, "an op index", u16::MAX.into()).map_err(|_| bad())? as u16;
    let access =
        value::number(access, "an access number", u32::MAX.into()).map_err(|_| bad())? as u32;
    Ok(Anchor { task, op, access })
}

/// `t1` or `w0`.
fn task(text: &str) -> Result<TaskRef, String> {
    let bad = || format!("expected a task (t0 to t2, w0 to w3), found {}", echo(text));
    let (kind, number) = text.split_at_checked(1).ok_or_else(bad)?;
    let index = value::number(number, "a task number", u8::MAX.into()).map_err(|_| bad())? as u8;
    match kind {
        "t" => Ok(TaskRef::Thread(index)),
        "w" => Ok(TaskRef::Walk(index)),
        _ => Err(bad()),
    }
}
