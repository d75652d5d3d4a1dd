use super::*;
use crate::conc::decode::decode;
use crate::conc::scenario::{Anchor, Preempt, TaskRef};
use crate::conc::site::Site;
use crate::scenario::{Config, Op};
use ptdiff_reference::Perm;

/// The example of the module doc.
const SAMPLE: &str = "\
# Section 6a of the design: assign racing a growing map.
config initial_levels=2 max_levels=4 devices=2 superpages=on missed_notifications=off
assign 0                                # setup: ordinary ops, run first, every check
thread 0 pci assign 1                   # thread N SITE OP: thread N's ops, in order
thread 1 notify-site notify 0x40000
thread 1 p2m map 0x40000 0x11 0 rw      # grows 2 -> 3 levels
preempt t0.0#2 -> t1                    # t0, in its op 0, about to make its 2nd access
walk t1.1#9 dev 1 dfn 0x40000 rw        # walk w0 starts when t1 reaches t1.1#9
walk dev 0 dfn 0x40000 r                # walk w1 runs when nothing else can
shadow off                              # no walks after each store (default on)
";

#[test]
fn parses_the_example() {
    let s = parse(SAMPLE).unwrap();
    let anchor = |task, op, access| Anchor { task, op, access };
    assert_eq!(
        s,
        ConcScenario {
            config: Config::default(),
            setup: vec![Op::Assign { dev: 0 }],
            threads: vec![
                vec![ThreadOp { site: Site::Pci, op: Op::Assign { dev: 1 } }],
                vec![
                    ThreadOp { site: Site::NotifySite, op: Op::Notify { dfn: 0x40000 } },
                    ThreadOp {
                        site: Site::P2m,
                        op: Op::Map {
                            dfn: 0x40000,
                            mfn: 0x11,
                            order: 0,
                            perm: Perm::RW,
                            missed: false,
                            count: 1
                        }
                    },
                ],
            ],
            walks: vec![
                WalkSpec {
                    at: Some(anchor(TaskRef::Thread(1), 1, 9)),
                    dev: 1,
                    dfn: 0x40000,
                    access: Perm::RW
                },
                WalkSpec { at: None, dev: 0, dfn: 0x40000, access: Perm::R },
            ],
            preempts: vec![Preempt {
                at: anchor(TaskRef::Thread(0), 0, 2),
                to: TaskRef::Thread(1)
            }],
            shadow_walks: false,
        }
    );
}

#[test]
fn prints_the_canonical_form() {
    let s = parse(SAMPLE).unwrap();
    let canonical = "\
config initial_levels=2 max_levels=4 devices=2 superpages=on missed_notifications=off
assign 0
thread 0 pci assign 1
thread 1 notify-site notify 0x40000
thread 1 p2m map 0x40000 0x11 0 rw
walk t1.1#9 dev 1 dfn 0x40000 rw
walk dev 0 dfn 0x40000 r
preempt t0.0#2 -> t1
shadow off
";
    assert_eq!(print(&s), canonical);
    assert_eq!(s.to_string(), canonical);
    assert_eq!(parse(canonical), Ok(s));
}

#[test]
fn threads_lines_may_interleave_and_shadow_defaults_on() {
    let s =
        parse("thread 1 p2m notify 1\nthread 0 rogue notify 0\nthread 1 p2m notify 2\nshadow on\n")
            .unwrap();
    let dfns: Vec<Vec<u64>> = s
        .threads
        .iter()
        .map(|ops| {
            ops.iter().map(|t| if let Op::Notify { dfn } = t.op { dfn } else { 99 }).collect()
        })
        .collect();
    assert_eq!(dfns, vec![vec![0], vec![1, 2]]);
    assert!(s.shadow_walks);
    assert!(parse("thread 0 p2m notify 0\n").unwrap().shadow_walks);
    assert!(!parse("thread 0 p2m notify 0\nshadow no\n").unwrap().shadow_walks);
}

#[test]
fn printed_decoded_scenarios_parse_back() {
    let mut rng = fastrand::Rng::with_seed(0x7e47_2026);
    for round in 0..3000 {
        let len = rng.usize(..if round % 10 == 0 { 2000 } else { 300 });
        let mut bytes = vec![0u8; len];
        rng.fill(&mut bytes);
        let s = decode(&bytes);
        let text = print(&s);
        assert_eq!(parse(&text).as_ref(), Ok(&s), "{text}");
        assert!(is_concurrent(text.as_bytes()));
        for reduced in s.reductions().take(4) {
            assert_eq!(parse(&print(&reduced)), Ok(reduced));
        }
    }
}

#[test]
fn concurrent_files_are_those_with_a_thread_line() {
    assert!(is_concurrent(b"assign 0\n  thread 0 p2m notify 0 # x\n"));
    assert!(is_concurrent(b"\xef\xbb\xbfthread 0 p2m notify 0"));
    assert!(!is_concurrent(b"# thread 0 p2m notify 0\nassign 0\n"));
    assert!(!is_concurrent(b"assign 0 # thread\nwalk dev 0 dfn 0 r\n"));
    assert!(!is_concurrent(b"threads 2\n"));
    assert!(is_concurrent(b"\xffx\nthread\n"));
}

/// `source` fails at `line:column` with exactly `message`.
fn fails(source: &str, line: usize, column: usize, message: &str) {
    assert_eq!(
        parse(source),
        Err(ParseError { line, column, message: message.to_string() }),
        "{source}"
    );
}

const T0: &str = "thread 0 p2m notify 0\n";

#[test]
fn line_errors_name_their_word() {
    fails(
        "thread 0 p2m notify 0\nassign 0\n",
        2,
        1,
        "setup operations come before the first `thread`, `walk`, `preempt` or `shadow` line \
         (line 1)",
    );
    fails(
        &format!("{T0}config devices=1\n"),
        2,
        1,
        "`config` must come before the first operation (line 1)",
    );
    fails("thread 3 p2m notify 0\n", 1, 8, "`3` is too large for a thread number (at most 2)");
    fails("thread\n", 1, 7, "expected a thread number (0 to 2)");
    fails(
        "thread 0 cpu notify 0\n",
        1,
        10,
        "expected a call site (p2m, pci, notify-site, rogue), found `cpu`",
    );
    fails("thread 0 p2m\n", 1, 13, "expected an operation");
    fails(
        "thread 0 p2m frob\n",
        1,
        14,
        "unknown operation `frob` (known in a thread: map, unmap, notify, assign, deassign, \
         translate, dma)",
    );
    fails("thread 0 p2m fail 1\n", 1, 14, "`fail` belongs to the setup, not to a thread");
    fails("thread 0 pci teardown\n", 1, 14, "`teardown` belongs to the setup, not to a thread");
    fails(
        "config missed_notifications=on\nthread 0 p2m map 0 0 0 r missed\n",
        2,
        26,
        "a `missed` map belongs to the setup: in a thread the site's own ops say whether it \
         notified",
    );
    fails("thread 0 p2m translate 5 0\n", 1, 24, "device 5 is not below `devices` = 2");
    fails("thread 0 p2m notify 0 extra\n", 1, 23, "unexpected `extra` (usage: notify DFN)");
    fails(
        "frob\nthread 0 p2m notify 0\n",
        1,
        1,
        "unknown operation `frob` (known: config, thread, walk, preempt, shadow, map, unmap, \
         notify, assign, deassign, translate, dma, fail, teardown, repeat)",
    );
    fails(&format!("{T0}shadow maybe\n"), 2, 8, "expected on or off, found `maybe`");
    fails(
        &format!("{T0}shadow off\nshadow on\n"),
        3,
        1,
        "a second `shadow` line (the first is line 2)",
    );
    fails(&format!("{T0}shadow off on\n"), 2, 12, "unexpected `on` (usage: shadow on|off)");
}

#[test]
fn walk_and_preempt_errors_name_their_word() {
    fails(&format!("{T0}preempt t0.0#1 => w0\n"), 2, 16, "expected `->`, found `=>`");
    fails(
        &format!("{T0}preempt t0.0 #1 -> w0\n"),
        2,
        9,
        "expected an anchor TASK.OP#ACCESS (as in t0.1#5), found `t0.0`",
    );
    fails(
        &format!("{T0}preempt t0.0#1 -> x1\n"),
        2,
        19,
        "expected a task (t0 to t2, w0 to w3), found `x1`",
    );
    fails(&format!("{T0}preempt t0.0#1 -> t0\n"), 2, 19, "t0 cannot preempt itself");
    fails(&format!("{T0}preempt t0.0#1 -> w0\n"), 2, 19, "there is no task w0");
    fails(
        &format!("{T0}walk dev 0 dfn 0 r\npreempt t0.1#1 -> w0\n"),
        3,
        9,
        "t0 has 1 op(s), no op 1",
    );
    fails(
        &format!("{T0}walk dev 0 dfn 0 r\npreempt t0.0#0 -> w0\n"),
        3,
        9,
        "accesses are counted from 1, found 0",
    );
    fails(
        &format!("{T0}thread 1 p2m notify 0\npreempt t0.0#1 -> t1\npreempt t0.0#1 -> w0\nwalk dev 0 dfn 0 r\n"),
        4,
        9,
        "the same anchor as the preempt on line 3",
    );
    fails(
        &format!("{T0}walk t0.0#1 dev 2 dfn 0 r\n"),
        2,
        17,
        "device 2 is not below `devices` = 2",
    );
    fails(
        &format!("{T0}walk dev 0 dfn 0 -\n"),
        2,
        18,
        "expected an access (r, w or rw), found `-`",
    );
    fails(&format!("{T0}walk dev 0 dfn\n"), 2, 15, "expected a dfn");
    fails(&format!("{T0}walk dev 0 pfn 0 r\n"), 2, 12, "expected `dfn`, found `pfn`");
    fails(
        &format!("{T0}walk x dev 0 dfn 0 r\n"),
        2,
        6,
        "expected an anchor (as in t0.1#5) or `dev`, found `x`",
    );
    fails(
        &format!("{T0}walk w0.0#1 dev 0 dfn 0 r\n"),
        2,
        6,
        "a walk is anchored on a thread or an earlier walk, not on w0",
    );
    fails(&format!("{T0}walk t2.0#1 dev 0 dfn 0 r\n"), 2, 6, "there is no task t2");
}

#[test]
fn limits_are_errors_at_the_line_beyond_them() {
    fails("walk dev 0 dfn 0 r\n", 1, 1, "a concurrent scenario needs a `thread` line");
    fails(
        "thread 1 p2m notify 0\n",
        1,
        8,
        "thread 1 without a thread 0 (threads are numbered from 0 without gaps)",
    );
    fails(&"thread 0 p2m notify 0\n".repeat(9), 9, 1, "thread t0 has 9 ops; a thread has 1 to 8");
    fails(&format!("{T0}{}", "walk dev 0 dfn 0 r\n".repeat(5)), 6, 1, "5 walks, at most 4 allowed");
    let preempts: String = (1..=9).map(|a| format!("preempt t0.0#{a} -> w0\n")).collect();
    fails(&format!("{T0}walk dev 0 dfn 0 r\n{preempts}"), 11, 1, "9 preempts, at most 8 allowed");
    fails(&format!("{}{T0}", "notify 0\n".repeat(65)), 65, 1, "65 setup ops, at most 64 allowed");
    fails(
        "config ranges=on\nmap 0 0 8 r 512\nthread 0 p2m unmap 0 8 512\nthread 0 p2m notify 0\n",
        4,
        14,
        "setup and threads may write 262145 table entries, at most 262144 allowed",
    );
    fails(
        "notify 0\nrepeat 65536\nthread 0 p2m notify 0\n",
        2,
        1,
        "the ops run 65537 times with their repetitions, at most 65536 allowed",
    );
    assert_eq!(
        parse_bytes(b"thread 0 p2m notify 0 # \xc3\xa9\nthread 0 p2m \xff\n"),
        Err(ParseError {
            line: 2,
            column: 14,
            message: "invalid UTF-8: byte 0xff (byte 14 of the line)".into()
        })
    );
}

#[test]
fn mutated_files_parse_or_fail_at_a_position_in_the_file() {
    let mut rng = fastrand::Rng::with_seed(0xbad_7e47);
    const NOISE: &[u8] = b" \n#.->tw0123456789xpci";
    for _ in 0..3000 {
        let mut bytes = vec![0u8; rng.usize(..300)];
        rng.fill(&mut bytes);
        let mut text = print(&decode(&bytes)).into_bytes();
        for _ in 0..rng.usize(1..4) {
            let at = rng.usize(..text.len());
            match rng.u8(..3) {
                0 => text[at] = NOISE[rng.usize(..NOISE.len())],
                1 => drop(text.remove(at)),
                _ => text.insert(at, NOISE[rng.usize(..NOISE.len())]),
            }
        }
        let lines = text.split(|&b| b == b'\n').count();
        match parse_bytes(&text) {
            Ok(s) => {
                assert_eq!(s.validate(), Ok(()));
                assert_eq!(parse(&print(&s)), Ok(s));
            }
            Err(e) => {
                let source = String::from_utf8_lossy(&text);
                assert!(e.line >= 1 && e.line <= lines && e.column >= 1, "{e}\n{source}");
                assert!(!e.message.is_empty());
            }
        }
    }
}
