//! A small set of DFNs with constant-time insert, lookup and clear: the probes an
//! implementation has verified in its current state ([`super::subject::Subject`]).

/// Positions in the table: twice [`DfnSet::CAPACITY`], so the load stays at most 1/2.
const POSITIONS: usize = 512;

/// A set of at most [`DfnSet::CAPACITY`] DFNs.
///
/// Open addressing with linear probing over `POSITIONS` positions. A position holds a member
/// when its stamp equals `stamp`; [`DfnSet::clear`] moves `stamp` on, which empties every
/// position at once. Invariant: every member sits at the first position at or after its home
/// (wrapping) whose stamp was not current when it was inserted, and `len` counts the members,
/// at most `CAPACITY`.
#[derive(Clone, Debug)]
pub struct DfnSet {
    keys: Box<[u64; POSITIONS]>,
    stamps: Box<[u32; POSITIONS]>,
    stamp: u32,
    len: usize,
}

impl Default for DfnSet {
    fn default() -> DfnSet {
        DfnSet {
            keys: Box::new([0; POSITIONS]),
            stamps: Box::new([0; POSITIONS]),
            stamp: 1,
            len: 0,
        }
    }
}

impl DfnSet {
    /// Most members; [`DfnSet::insert`] into a full set does nothing and returns false.
    pub const CAPACITY: usize = POSITIONS / 2;

    /// An empty set.
    pub fn new() -> DfnSet {
        DfnSet::default()
    }

    /// Members.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True with no member.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn home(dfn: u64) -> usize {
        (dfn.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 55) as usize
    }

    /// Where `dfn` is, or the free position where it would go.
    fn position(&self, dfn: u64) -> (usize, bool) {
        let mut at = Self::home(dfn);
        loop {
            if self.stamps[at] != self.stamp {
                return (at, false);
            }
            if self.keys[at] == dfn {
                return (at, true);
            }
            at = (at + 1) % POSITIONS;
        }
    }

    /// True when `dfn` is a member.
    pub fn contains(&self, dfn: u64) -> bool {
        self.position(dfn).1
    }

    /// Adds `dfn`; false when the set is full and `dfn` is not a member.
    pub fn insert(&mut self, dfn: u64) -> bool {
        let (at, found) = self.position(dfn);
        if found {
            return true;
        }
        if self.len == Self::CAPACITY {
            return false;
        }
        self.keys[at] = dfn;
        self.stamps[at] = self.stamp;
        self.len += 1;
        true
    }

    /// Removes every member, in constant time (all positions once every 2^32 clears).
    pub fn clear(&mut self) {
        self.len = 0;
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.stamps.fill(0);
            self.stamp = 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_finds_and_clears() {
        let mut set = DfnSet::new();
        assert!(!set.contains(0));
        assert!(set.insert(0) && set.insert(0x1ff) && set.insert(0x1ff));
        assert_eq!(set.len(), 2);
        assert!(set.contains(0) && set.contains(0x1ff) && !set.contains(0x200));
        set.clear();
        assert!(set.is_empty() && !set.contains(0) && !set.contains(0x1ff));
        assert!(set.insert(0x200) && set.contains(0x200) && !set.contains(0));
    }

    #[test]
    fn holds_its_capacity_and_refuses_more() {
        let mut set = DfnSet::new();
        // Multiples of 512 share a home position in a naive index; all must still be found.
        for i in 0..DfnSet::CAPACITY as u64 {
            assert!(set.insert(i << 9), "insert {i}");
        }
        assert_eq!(set.len(), DfnSet::CAPACITY);
        assert!(!set.insert(7), "full");
        assert!(set.insert(5 << 9), "a member is still accepted");
        assert!((0..DfnSet::CAPACITY as u64).all(|i| set.contains(i << 9)));
        assert!(!set.contains(7));
    }

    #[test]
    fn survives_the_stamp_wrapping() {
        let mut set = DfnSet::new();
        set.insert(3);
        set.stamp = u32::MAX;
        set.stamps[DfnSet::home(9)] = u32::MAX;
        set.keys[DfnSet::home(9)] = 9;
        set.len = 1;
        assert!(set.contains(9));
        set.clear();
        assert!(!set.contains(9) && !set.contains(3) && set.is_empty());
        assert!(set.insert(9) && set.contains(9));
    }
}
