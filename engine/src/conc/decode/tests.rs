use super::*;
use crate::conc::encode::encode;
use crate::conc::text::parse;

/// `n` seeded random inputs, most short, some long.
fn inputs(seed: u64, n: usize) -> Vec<Vec<u8>> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|i| {
            let len = rng.usize(..if i % 10 == 0 { 2000 } else { 200 });
            let mut bytes = vec![0u8; len];
            rng.fill(&mut bytes);
            bytes
        })
        .collect()
}

#[test]
fn empty_input_decodes_to_one_map() {
    assert_eq!(
        decode(&[]).to_string(),
        "config initial_levels=1 max_levels=4 devices=1 superpages=off \
         missed_notifications=on\nthread 0 p2m map 0x0 0x0 0 rw\n"
    );
}

#[test]
fn bytes_decode_as_the_module_doc_says() {
    let mut bytes = vec![
        0x01, 0x15, // config: 2 -> 4 levels, 2 devices, superpages, no missed maps
        0x2d, 3, 0, 12, // 0x2d % 8 = 5: 3 threads; their op counts: 2, 1, 5
    ];
    bytes.extend_from_slice(&[35, 14]); // t0: notify, dfn choice 14: a raw u64
    bytes.extend_from_slice(&0x40000u64.to_le_bytes());
    bytes.push(0); // notify-site
    bytes.extend_from_slice(&[0, 0, 14]); // t0: map, order 0, dfn raw
    bytes.extend_from_slice(&0x40000u64.to_le_bytes());
    bytes.extend_from_slice(&[0, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // mfn raw 0x11, rw, p2m
    bytes.extend_from_slice(&[52, 1, 0]); // t1: deassign 1 from pci
    for _ in 0..5 {
        bytes.extend_from_slice(&[60, 0, 0, 0, 12, 15]); // t2: dma 0, the first DFN used, w; rogue
    }
    bytes.extend_from_slice(&[9, 1, 40, 1]); // setup: assign 0, then 1 more op: assign 1
                                             // A walk record (t0, op 1, access 1 + 8, dev 1, DFN choice 0 and index 0: the first DFN
                                             // used, perm byte 8: r), a preempt record (t0, op 0, access 1 + 1, the first other thread),
                                             // the header (WALK_COUNTS[3] = 1 walk, PREEMPT_COUNTS[1] = 1 preempt).
    bytes.extend_from_slice(&[0, 1, 8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8]);
    bytes.extend_from_slice(&[0, 0, 1, 0]);
    bytes.push(3 | 1 << 3);
    let s = decode(&bytes);
    assert_eq!(
        s.to_string(),
        "config initial_levels=2 max_levels=4 devices=2 superpages=on missed_notifications=off\n\
         assign 0\n\
         assign 1\n\
         thread 0 notify-site notify 0x40000\n\
         thread 0 p2m map 0x40000 0x11 0 rw\n\
         thread 1 pci deassign 1\n\
         thread 2 rogue dma 0 0x40000 w\n\
         thread 2 rogue dma 0 0x40000 w\n\
         thread 2 rogue dma 0 0x40000 w\n\
         thread 2 rogue dma 0 0x40000 w\n\
         thread 2 rogue dma 0 0x40000 w\n\
         walk t0.1#9 dev 1 dfn 0x40000 r\n\
         preempt t0.0#2 -> t1\n"
    );
}

#[test]
fn decoding_is_deterministic_and_valid() {
    for bytes in inputs(0x0c0c_2026, 3000) {
        let s = decode(&bytes);
        assert_eq!(s, decode(&bytes));
        assert_eq!(s.validate(), Ok(()), "{s}");
        let runs = crate::scenario::repeat::run_length(&s.setup);
        assert!(runs <= MAX_SETUP_RUNS as u64, "{runs}");
        let entries = crate::scenario::repeat::run_entries(&s.setup);
        assert!(entries <= MAX_SETUP_ENTRIES, "{entries}\n{s}");
    }
}

#[test]
fn the_threads_write_at_most_their_budget_past_which_ranges_are_cut_to_what_fits() {
    let (mut filled, mut beyond) = (0, 0);
    for bytes in inputs(0x7e1e_5512, 3000) {
        let s = decode(&bytes);
        let mut entries = 0;
        for t in s.threads.iter().flatten() {
            let before = entries;
            entries += t.op.entries();
            if entries > MAX_THREAD_ENTRIES {
                // Only one page (or an op that is no range) goes past the budget.
                let one_page = match t.op {
                    Op::Map { count, .. } | Op::Unmap { count, .. } => count == 1,
                    _ => true,
                };
                assert!(one_page, "{before} then `{}`\n{s}", t.op);
                beyond += 1;
            }
        }
        filled += usize::from(entries == MAX_THREAD_ENTRIES);
    }
    // Random counts reach the budget: ranges are cut to fill it exactly, and past it.
    assert!(filled >= 10 && beyond >= 100, "{filled} filled, {beyond} beyond");
}

#[test]
fn the_encoder_inverts_the_decoder() {
    let mut encoded = 0;
    for bytes in inputs(0xe2c0_de00, 3000) {
        let s = decode(&bytes);
        match encode(&s) {
            Ok(again) => {
                assert_eq!(decode(&again), s);
                encoded += 1;
            }
            // Only a thread range cut to one page can leave the entries above the budget.
            Err(crate::conc::encode::EncodeError::Entries(_)) => {}
            Err(e) => panic!("{e}\n{s}"),
        }
    }
    assert!(encoded >= 2990, "{encoded} of 3000");
}

/// `s` encoded, then `change` applied to the bytes, decoded.
fn mutated(s: &ConcScenario, change: impl FnOnce(&mut Vec<u8>)) -> ConcScenario {
    let mut bytes = encode(s).unwrap();
    change(&mut bytes);
    decode(&bytes)
}

fn sample() -> ConcScenario {
    parse(
        "assign 0\nthread 0 pci assign 1\nthread 0 p2m map 0x200 0x10 0 rw\n\
         thread 1 notify-site notify 0x40000\nthread 1 p2m map 0x40000 0x11 0 rw\n\
         walk t1.1#9 dev 1 dfn 0x40000 rw\nwalk dev 0 dfn 0x200 r\n\
         preempt t0.0#2 -> t1\npreempt t1.1#4 -> w0\npreempt t0.1#30 -> t1\n",
    )
    .unwrap()
}

#[test]
fn one_anchor_byte_moves_one_switch_point() {
    let s = sample();
    let len = encode(&s).unwrap().len();
    // The second preempt's record ends 4 bytes before the header: its access byte.
    let moved = mutated(&s, |b| b[len - 1 - 8 + 2] = 6);
    assert_eq!(moved.preempts[1].to_string(), "t1.1#7 -> w0");
    assert_eq!((moved.preempts[0], moved.preempts[2]), (s.preempts[0], s.preempts[2]));
    assert_eq!((&moved.threads, &moved.walks, &moved.setup), (&s.threads, &s.walks, &s.setup));
    // Its task byte: the anchor moves to thread 0 (op 1 % 2 ops), nothing else does.
    let moved = mutated(&s, |b| b[len - 1 - 8] = 0);
    assert_eq!(moved.preempts[1].to_string(), "t0.1#4 -> w0");
    assert_eq!((moved.preempts[0], moved.preempts[2]), (s.preempts[0], s.preempts[2]));
}

#[test]
fn front_mutations_move_no_switch_point() {
    let s = sample();
    // A byte inserted after the first thread op changes the ops, not the schedule.
    let inserted = mutated(&s, |b| b.insert(9, 0x2f));
    assert_ne!(inserted.threads, s.threads);
    assert_eq!(inserted.preempts, s.preempts);
    let anchors = |s: &ConcScenario| s.walks.iter().map(|w| w.at).collect::<Vec<_>>();
    assert_eq!(anchors(&inserted), anchors(&s));
    // A DFN's raw bytes changed in place: the walk that reuses nothing keeps its DFN too.
    let dfn = mutated(&s, |b| b[13] ^= 0x10); // map 0x200 -> map 0x1200
    assert_ne!(dfn.threads, s.threads);
    assert_eq!((&dfn.walks, &dfn.preempts), (&s.walks, &s.preempts));
}

#[test]
fn decoded_values_follow_their_biases() {
    let mut sites = std::collections::HashMap::<(&str, Site), usize>::new();
    let (mut threads, mut anchors, mut small, mut to_thread, mut preempts) = ([0; 4], 0, 0, 0, 0);
    let (mut walks, mut walk_dfn_reused, mut unanchored, mut setups) = (0, 0, 0, 0);
    for bytes in inputs(0xb1a5, 3000) {
        let s = decode(&bytes);
        threads[s.threads.len()] += 1;
        setups += usize::from(!s.setup.is_empty());
        let ops = s.setup.iter().chain(s.threads.iter().flatten().map(|t| &t.op));
        let dfns: Vec<u64> = ops.filter_map(dfn_of).collect();
        for t in s.threads.iter().flatten() {
            *sites.entry((t.op.keyword(), t.site)).or_default() += 1;
        }
        for w in &s.walks {
            walks += 1;
            walk_dfn_reused += usize::from(dfns.contains(&w.dfn));
            unanchored += usize::from(w.at.is_none());
        }
        for a in s.walks.iter().filter_map(|w| w.at).chain(s.preempts.iter().map(|p| p.at)) {
            anchors += 1;
            small += usize::from((1..=40).contains(&a.access));
        }
        for p in &s.preempts {
            preempts += 1;
            to_thread += usize::from(matches!(p.to, TaskRef::Thread(_)));
        }
    }
    let share = |kind: &str, site: Site| {
        let all: usize =
            Site::ALL.iter().map(|&s| sites.get(&(kind, s)).copied().unwrap_or(0)).sum();
        sites.get(&(kind, site)).copied().unwrap_or(0) as f64 / all.max(1) as f64
    };
    assert!(share("assign", Site::Pci) > 0.65, "{}", share("assign", Site::Pci));
    assert!(share("notify", Site::NotifySite) > 0.65);
    assert!(share("map", Site::P2m) > 0.75);
    assert!(share("map", Site::Rogue) > 0.02 && share("map", Site::Rogue) < 0.12);
    assert!(
        threads[2] > threads[1] && threads[2] > threads[3] && threads[1] > 0 && threads[3] > 0,
        "{threads:?}"
    );
    assert!(small as f64 > 0.9 * anchors as f64, "{small} of {anchors}");
    assert!(to_thread as f64 > 0.6 * preempts as f64, "{to_thread} of {preempts}");
    assert!(walk_dfn_reused as f64 > 0.15 * walks as f64, "{walk_dfn_reused} of {walks}");
    assert!(unanchored > 0 && (unanchored as f64) < 0.25 * walks as f64);
    // The setup comes last in the front: short inputs run out before it.
    assert!(setups > 1500, "{setups}");
}

fn dfn_of(op: &Op) -> Option<u64> {
    match *op {
        Op::Map { dfn, .. }
        | Op::Unmap { dfn, .. }
        | Op::Notify { dfn }
        | Op::Translate { dfn, .. }
        | Op::Dma { dfn, .. } => Some(dfn),
        _ => None,
    }
}

#[test]
fn threads_never_get_setup_only_ops() {
    for bytes in inputs(0x5e7, 2000) {
        for t in decode(&bytes).threads.iter().flatten() {
            assert!(!crate::conc::scenario::SETUP_ONLY.contains(&t.op.keyword()), "{}", t.op);
            assert!(!matches!(t.op, Op::Map { missed: true, .. }));
        }
    }
}

#[test]
fn the_tables_cover_their_codes() {
    assert_eq!(THREAD_ROWS.iter().map(|&(_, n)| u32::from(n)).sum::<u32>(), 64);
    for (keyword, _) in THREAD_ROWS {
        assert!(by_keyword(keyword).is_some(), "{keyword}");
        assert!(!crate::conc::scenario::SETUP_ONLY.contains(&keyword));
    }
    assert_eq!(thread_row(0).keyword, "map");
    assert_eq!(thread_row(20).keyword, "unmap");
    assert_eq!(thread_row(63).keyword, "dma");
    assert_eq!(thread_row(64 + 44).keyword, "assign");
    assert_eq!(thread_row(52).keyword, "deassign");
    // Every site calls map and unmap; notify, assign and deassign only from a site holding the
    // devices lock (a fuzz input keeps the caller protocol).
    let unmap = Op::Unmap { dfn: 0, order: 0, count: 1 };
    for site in Site::ALL {
        assert!(site_bias(&unmap).contains(&site), "{unmap} never from {site}");
    }
    for op in [Op::Notify { dfn: 0 }, Op::Assign { dev: 0 }, Op::Deassign { dev: 0 }] {
        for site in Site::ALL {
            let compliant = site.held(&op).contains(&crate::step::LockClass::Devices);
            assert_eq!(site_bias(&op).contains(&site), compliant, "{op} from {site}");
        }
    }
    assert_eq!(
        (setup_length(7), setup_length(191), setup_length(192), setup_length(255)),
        (7, 7, 0, 63)
    );
    assert_eq!(
        (access_number(0), access_number(239), access_number(240), access_number(255)),
        (1, 40, 72, 552)
    );
}

#[test]
fn short_inputs_read_missing_trailer_bytes_as_zero() {
    // Header 0xff: 4 walks, 8 preempts, from only 3 bytes before it.
    let s = decode(&[1, 2, 3, 0xff]);
    assert_eq!(s.validate(), Ok(()));
    assert_eq!(s.walks.len(), 4);
    assert_eq!(decode(&[0xff]).walks.len(), 4);
}
