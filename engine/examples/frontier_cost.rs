//! Cost of frontier events (run by hand): `cargo run --release -p ptdiff --example frontier_cost`.

use ptdiff::check::device_set::DeviceSet;
use ptdiff::conc::{Frontier, Observed, Spec};
use ptdiff::table::{PageOrders, Perm};
use ptdiff::Op;
use ptdiff_reference::Model;
use std::hint::black_box;
use std::time::Instant;

fn map(dfn: u64, mfn: u64) -> Op {
    Op::Map { dfn, mfn, order: 0, perm: Perm::RW, missed: false, count: 1 }
}

fn spec(extents: u64) -> Spec {
    let mut model = Model::new();
    for i in 0..extents {
        model.map(0x100000 + 2 * i, i, 0, Perm::R);
    }
    let mut assigned = DeviceSet::EMPTY;
    assigned.insert(0);
    Spec::new(model, 4, 4, PageOrders::BASE, assigned, false)
}

fn time(name: &str, events_per_iter: u64, iters: u64, mut f: impl FnMut(u64)) {
    let start = Instant::now();
    for i in 0..iters {
        f(i);
    }
    let ns = start.elapsed().as_nanos() as f64 / (iters * events_per_iter) as f64;
    println!("{name:<60} {ns:>8.0} ns/event");
}

fn main() {
    for extents in [10, 10_000] {
        println!("model of {extents} extents");
        let mut f = Frontier::new(spec(extents));
        time("  read, nothing in flight", 1, 1_000_000, |i| {
            f.read(0, i & 0xff, Observed::Faulted).unwrap();
        });
        let mut f = Frontier::new(spec(extents));
        // invoke, 2 reads, ret, 1 read: 5 events
        time("  one op at a time: invoke, read, read, ret, read", 5, 200_000, |i| {
            let dfn = i & 0xff;
            let id = i as u32;
            f.invoke(id, map(dfn, i)).unwrap();
            f.read(0, dfn + 0x1000, Observed::Faulted).unwrap();
            f.read(0, dfn, Observed::Mapped { mfn: i, perm: Perm::RW }).unwrap();
            f.ret(id, Ok(())).unwrap();
            f.read(0, dfn, Observed::Mapped { mfn: i, perm: Perm::RW }).unwrap();
        });
        let mut f = Frontier::new(spec(extents));
        // 3 pending maps of different DFNs, 20 reads, rets: 26 events
        time("  3 maps in flight, 20 reads that see nothing, 3 rets", 26, 20_000, |i| {
            let base = (i & 0xf) * 0x10;
            for k in 0..3u32 {
                f.invoke(k, map(base + u64::from(k), i)).unwrap();
            }
            for r in 0..20 {
                f.read(0, base + r % 4 + 0x1000, Observed::Faulted).unwrap();
            }
            for k in 0..3u32 {
                f.ret(k, Ok(())).unwrap();
            }
            black_box(f.len());
        });
        let mut f = Frontier::new(spec(extents));
        // 3 pending maps of one DFN, reads that decide, rets, collapse
        time("  3 maps of one DFN racing, 6 reads that narrow, 3 rets", 12, 20_000, |i| {
            let dfn = i & 0xff;
            for k in 0..3u32 {
                f.invoke(k, map(dfn, u64::from(k) + 1)).unwrap();
            }
            for k in [1, 1, 3, 3, 2, 2] {
                f.read(0, dfn, Observed::Mapped { mfn: k, perm: Perm::RW }).unwrap();
            }
            for k in 0..3u32 {
                f.ret(k, Ok(())).unwrap();
            }
            black_box(f.len());
        });
        let mut f = Frontier::new(spec(extents));
        time("  2 racing maps of one DFN, no read, collapse + settle(0)", 5, 50_000, |i| {
            let dfn = i & 0xff;
            f.invoke(0, map(dfn, 1)).unwrap();
            f.invoke(1, map(dfn, 2)).unwrap();
            f.ret(0, Ok(())).unwrap();
            f.ret(1, Ok(())).unwrap();
            assert_eq!(f.collapse().unwrap(), 2);
            f.settle(0).unwrap();
        });
    }
}
