use super::*;
use crate::scenario::op_table::{Codes, Operand};
use ptdiff_reference::Perm;

const SAMPLE: &str = "\
# a comment line
config initial_levels=3 max_levels=5 devices=3 superpages=on missed_notifications=on
assign 2
map 0x40000 0x1_234 0 rw   # trailing comment
map 512 0x200 9 r missed
unmap 0x40000 0
notify 0x3ffff
translate 1 0x40000
dma 1 0x40000 w
fail 3
deassign 2
teardown
";

#[test]
fn parses_every_op() {
    let s = parse(SAMPLE).unwrap();
    assert_eq!(
        s.config,
        Config {
            initial_levels: 3,
            max_levels: 5,
            devices: 3,
            superpages: true,
            missed_notifications: true,
            ..Config::default()
        }
    );
    assert_eq!(
        s.ops,
        vec![
            Op::Assign { dev: 2 },
            Op::Map {
                dfn: 0x40000,
                mfn: 0x1234,
                order: 0,
                perm: Perm::RW,
                missed: false,
                count: 1
            },
            Op::Map { dfn: 512, mfn: 0x200, order: 9, perm: Perm::R, missed: true, count: 1 },
            Op::Unmap { dfn: 0x40000, order: 0, count: 1 },
            Op::Notify { dfn: 0x3ffff },
            Op::Translate { dev: 1, dfn: 0x40000 },
            Op::Dma { dev: 1, dfn: 0x40000, access: Perm::W },
            Op::FailAlloc { nth: 3 },
            Op::Deassign { dev: 2 },
            Op::Teardown,
        ]
    );
}

#[test]
fn table_placement_is_printed_only_when_not_low() {
    let s = parse("config tables=spread table_seed=0x2a devices=1\nassign 0\n").unwrap();
    assert_eq!(s.config.placement(), crate::substrate::frames::Placement::Spread { seed: 42 });
    let text = print(&s);
    assert_eq!(
        text,
        "config initial_levels=2 max_levels=4 devices=1 superpages=on missed_notifications=off \
         tables=spread table_seed=42\nassign 0\n"
    );
    assert_eq!(parse(&text).unwrap(), s);
    let high = parse("config tables=adversarial\n").unwrap();
    assert!(print(&high).ends_with(" tables=adversarial\n"));
    assert!(!print(&Scenario::default()).contains("tables"));
}

#[test]
fn print_then_parse_is_identity() {
    let s = parse(SAMPLE).unwrap();
    let text = print(&s);
    assert_eq!(
        text,
        "config initial_levels=3 max_levels=5 devices=3 superpages=on missed_notifications=on\n\
         assign 2\nmap 0x40000 0x1234 0 rw\nmap 0x200 0x200 9 r missed\nunmap 0x40000 0\n\
         notify 0x3ffff\ntranslate 1 0x40000\ndma 1 0x40000 w\nfail 3\ndeassign 2\nteardown\n"
    );
    assert_eq!(parse(&text).unwrap(), s);
    assert_eq!(Scenario::default().to_string(), format!("{}\n", print_config(&Config::default())));
}

#[test]
fn config_is_optional() {
    let s = parse("assign 0\n").unwrap();
    assert_eq!(s.config, Config::default());
}

#[test]
fn accepts_a_byte_order_mark_and_crlf() {
    let s = parse_bytes(b"\xef\xbb\xbfconfig devices=3\r\nassign 2\r\n").unwrap();
    assert_eq!((s.config.devices, s.ops.clone()), (3, vec![Op::Assign { dev: 2 }]));
    // Only at the very start: elsewhere it is part of a word.
    assert_eq!(error_at("assign 0\n\u{feff}assign 1\n").0, 2);
}

fn error_at(source: &str) -> (usize, usize, String) {
    let e = parse(source).unwrap_err();
    (e.line, e.column, e.message)
}

fn error_at_bytes(source: &[u8]) -> (usize, usize, String) {
    let e = parse_bytes(source).unwrap_err();
    (e.line, e.column, e.message)
}

#[test]
fn errors_display_as_line_colon_column() {
    let e = parse("assign 0\n\nmap 0x1 zz 0 rw\n").unwrap_err();
    assert_eq!(e.to_string(), "3:9: expected an mfn (a number), found `zz`");
}

#[test]
fn errors_carry_line_and_column() {
    assert_eq!(
        error_at("assign 0\nmap 0x1 zz 0 rw\n"),
        (2, 9, "expected an mfn (a number), found `zz`".to_string())
    );
    assert_eq!(
        error_at("  frob 1\n"),
        (
            1,
            3,
            "unknown operation `frob` (known: config, map, unmap, notify, assign, deassign, \
             translate, dma, fail, teardown, repeat)"
                .to_string()
        )
    );
    assert_eq!(
        error_at("map 1 2 0 rx\n"),
        (1, 11, "expected a permission (r, w, rw or -), found `rx`".to_string())
    );
    assert_eq!(error_at("unmap 1\n"), (1, 8, "expected an order".to_string()));
    assert_eq!(
        error_at("teardown now\n"),
        (1, 10, "unexpected `now` (usage: teardown)".to_string())
    );
    assert_eq!(
        error_at("map 1 2 0 rw often\n"),
        (1, 14, "expected a page count (a number), found `often`".to_string())
    );
    assert_eq!(
        error_at("map 1 2 0 rw 3 often\n"),
        (1, 16, "unexpected `often` (usage: map DFN MFN ORDER PERM [missed] [COUNT])".to_string())
    );
    assert_eq!(
        error_at("assign 70000\n"),
        (1, 8, "`70000` is too large for a device (at most 65535)".to_string())
    );
    assert_eq!(
        error_at("config max_levels=9\n"),
        (1, 8, "max_levels must be 4..=6, got 9".to_string())
    );
    assert_eq!(
        error_at("config max_levels=5 initial_levels=6\n"),
        (1, 21, "initial_levels 6 is above max_levels 5".to_string())
    );
    assert_eq!(
        error_at("config colour=blue\n"),
        (
            1,
            8,
            "unknown config key `colour` (known: initial_levels, max_levels, devices, \
             superpages, missed_notifications, tables, table_seed, ranges, all_page_sizes, \
             growth)"
                .to_string()
        )
    );
    assert_eq!(
        error_at("config tables=top\n"),
        (1, 15, "tables: expected one of low, high, spread, adversarial, found `top`".to_string())
    );
    assert_eq!(
        error_at("config devices=1 table_seed=3\n"),
        (1, 18, "table_seed=3 needs tables=spread".to_string())
    );
    assert_eq!(
        error_at("config devices\n"),
        (1, 8, "expected key=value, found `devices`".to_string())
    );
    assert_eq!(
        error_at("config superpages=maybe\n"),
        (1, 19, "superpages: expected on/off, found `maybe`".to_string())
    );
    assert_eq!(
        error_at("config devices=256\n"),
        (1, 16, "devices: `256` is too large for a device count (at most 255)".to_string())
    );
    assert_eq!(
        error_at("dma 0 0x1 -\n"),
        (1, 11, "expected an access (r, w or rw), found `-`".to_string())
    );
}

#[test]
fn ops_are_checked_against_the_config_at_the_operand() {
    assert_eq!(
        error_at("config devices=2\n\nassign 5\n"),
        (3, 8, "device 5 is not below `devices` = 2".to_string())
    );
    assert_eq!(
        error_at("map 1 2 0 rw missed\n"),
        (1, 14, "`missed` needs `missed_notifications=on` in the config".to_string())
    );
    assert_eq!(
        error_at("config superpages=off\nunmap 0 9\nmap 0x200 2 9 rw\n"),
        (3, 13, "order 9 needs `superpages=on` in the config".to_string())
    );
    assert_eq!(error_at("fail 0\n"), (1, 6, "allocations are counted from 1, found 0".to_string()));
}

#[test]
fn config_appears_once_with_each_key_once() {
    assert_eq!(
        error_at("config devices=2 superpages=on devices=3\n"),
        (1, 32, "duplicate config key `devices` (first set at column 8)".to_string())
    );
    assert_eq!(
        error_at("config devices=2\n# again\nconfig devices=3\n"),
        (3, 1, "a second `config` line (the first is line 1)".to_string())
    );
    assert_eq!(
        error_at("\nassign 0\nconfig devices=2\n"),
        (3, 1, "`config` must come before the first operation (line 2)".to_string())
    );
}

#[test]
fn numbers_are_unsigned_and_bounded() {
    assert_eq!(
        error_at("notify +5\n"),
        (1, 8, "expected a dfn (a number, without a sign), found `+5`".to_string())
    );
    assert_eq!(
        error_at("notify 0x10000000000000000\n"),
        (1, 8, "`0x10000000000000000` is too large for a dfn (at most 2^64 - 1)".to_string())
    );
    assert_eq!(
        error_at("config initial_levels=+2\n"),
        (
            1,
            23,
            "initial_levels: expected a level (a number, without a sign), found `+2`".to_string()
        )
    );
}

#[test]
fn long_tokens_are_echoed_as_a_prefix() {
    let long = "x".repeat(1000);
    let (line, column, message) = error_at(&format!("map 1 {long} 0 rw\n"));
    assert_eq!((line, column), (1, 7));
    assert_eq!(message, format!("expected an mfn (a number), found `{}…`", "x".repeat(24)));
}

#[test]
fn columns_count_characters() {
    assert_eq!(
        error_at("# é\nnotify   0x1 # é\nassign é\n"),
        (3, 8, "expected a device (a number), found `é`".to_string())
    );
    assert_eq!(error_at("map é 2 0 rw\n").1, 5);
    assert_eq!(error_at("map 0x1 0x2 0 é\n").1, 15);
    assert_eq!(error_at("unmap ééé\n").1, 7);
    assert_eq!(error_at("unmap 1 # ééé\n").1, 8);
}

#[test]
fn invalid_utf8_names_its_line_and_byte() {
    assert_eq!(
        error_at_bytes(b"assign 0\nnotify \xc3\xa9\xff\n"),
        (2, 9, "invalid UTF-8: byte 0xff (byte 10 of the line)".to_string())
    );
    assert_eq!(
        error_at_bytes(b"# \xfe\n"),
        (1, 3, "invalid UTF-8: byte 0xfe (byte 3 of the line)".to_string())
    );
}

#[test]
fn too_many_ops_is_an_error_at_the_first_extra_line() {
    let source = "notify 1\n".repeat(MAX_OPS + 1);
    assert_eq!(
        error_at(&source),
        (MAX_OPS + 1, 1, format!("{} ops, at most {MAX_OPS} allowed", MAX_OPS + 1))
    );
}

/// A row with optional trailing operands, the way a later one (a page count) would be added.
const RANGE: OpSpec = OpSpec {
    keyword: "range",
    codes: Codes::Bytes { first: 255, last: 255 },
    operands: &[
        Operand::of(OperandKind::Dfn),
        Operand::of(OperandKind::Nth).optional(1),
        Operand::flag("missed"),
        Operand::of(OperandKind::Order).optional(0),
    ],
    build: |_| Op::Teardown,
};

fn range_operands(source: &str) -> Result<(Vec<u64>, Vec<usize>), String> {
    let line = Line::split(1, source.as_bytes()).unwrap();
    let (values, columns) = parse_operands(&line, &RANGE).map_err(|e| e.to_string())?;
    Ok(((0..4).map(|slot| values.get(slot)).collect(), columns[..4].to_vec()))
}

#[test]
fn optional_operands_take_defaults_and_flags_match_by_word() {
    assert_eq!(usage(&RANGE), "range DFN [N] [missed] [ORDER]");
    assert_eq!(range_operands("range 7"), Ok((vec![7, 1, 0, 0], vec![7, 1, 1, 1])));
    assert_eq!(range_operands("range 7 4"), Ok((vec![7, 4, 0, 0], vec![7, 9, 1, 1])));
    assert_eq!(range_operands("range 7 missed"), Ok((vec![7, 1, 1, 0], vec![7, 1, 9, 1])));
    assert_eq!(range_operands("range 7 4 missed 9"), Ok((vec![7, 4, 1, 9], vec![7, 9, 11, 18])));
    assert_eq!(range_operands("range 7 4 9"), Ok((vec![7, 4, 0, 9], vec![7, 9, 1, 11])));
    assert_eq!(
        range_operands("range 7 4 9 missed"),
        Err("1:13: unexpected `missed` (usage: range DFN [N] [missed] [ORDER])".into())
    );
    assert_eq!(range_operands("range"), Err("1:6: expected a dfn".into()));
    assert_eq!(
        range_operands("range 7 x"),
        Err("1:9: expected an allocation number (a number), found `x`".into())
    );
}

#[test]
fn optional_operands_at_their_default_are_not_printed() {
    for (values, printed) in [
        ([7, 1, 0, 0], "range 0x7"),
        ([7, 4, 0, 0], "range 0x7 4"),
        ([7, 1, 1, 0], "range 0x7 1 missed"),
        ([7, 1, 0, 9], "range 0x7 1 9"),
        ([7, 4, 1, 9], "range 0x7 4 missed 9"),
    ] {
        assert_eq!(print_operands(&RANGE, &Operands::of(&values)), printed);
        assert_eq!(range_operands(printed).map(|(v, _)| v), Ok(values.to_vec()));
    }
}

#[test]
fn ranges_and_page_sizes_parse_and_print() {
    let s = parse(
        "config ranges=on all_page_sizes=on missed_notifications=on\n\
         map 0x1ff 0x10 0 rw 3\n\
         map 0x8 0x8 3 r missed 2\n\
         unmap 0x1f8 3 513\n\
         unmap 0 9\n",
    )
    .unwrap();
    assert!(s.config.ranges && s.config.all_page_sizes);
    assert_eq!(
        s.ops,
        vec![
            Op::Map { dfn: 0x1ff, mfn: 0x10, order: 0, perm: Perm::RW, missed: false, count: 3 },
            Op::Map { dfn: 8, mfn: 8, order: 3, perm: Perm::R, missed: true, count: 2 },
            Op::Unmap { dfn: 0x1f8, order: 3, count: 513 },
            Op::Unmap { dfn: 0, order: 9, count: 1 },
        ]
    );
    let text = print(&s);
    assert_eq!(
        text,
        "config initial_levels=2 max_levels=4 devices=2 superpages=on missed_notifications=on \
         ranges=on all_page_sizes=on\nmap 0x1ff 0x10 0 rw 3\nmap 0x8 0x8 3 r missed 2\n\
         unmap 0x1f8 3 513\nunmap 0x0 9\n"
    );
    assert_eq!(parse(&text).unwrap(), s);
    let err = |t: &str| parse(t).unwrap_err().to_string();
    assert_eq!(err("map 0 0 0 rw 2"), "1:14: count 2 needs `ranges=on` in the config");
    assert_eq!(
        err("config ranges=on\nunmap 0 0 0"),
        "2:11: a range holds at least one page, found 0"
    );
    assert!(
        err("config ranges=on\nunmap 0 0 4097").starts_with("2:11: "),
        "{}",
        err("config ranges=on\nunmap 0 0 4097")
    );
    assert_eq!(
        err("config ranges=on\nmap 0 0 0 rw 2 missed"),
        "2:16: unexpected `missed` (usage: map DFN MFN ORDER PERM [missed] [COUNT])"
    );
}
