//! A few physical frames in one flat array: the table memory of the `walker` fuzz target.

use ptdiff_reference::PhysMem;

/// Qwords per 4 KiB frame.
const QWORDS: usize = 512;

/// `FRAMES` consecutive 4 KiB frames, pfns `first_pfn..first_pfn + FRAMES`, stored inline and
/// addressed by index: no hashing, no allocation.
///
/// Invariant: qword `i` of frame `first_pfn + f` is `frames[f][i]`; every other address has
/// no memory (reads give `None`, writes are refused), as do unaligned addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameArray<const FRAMES: usize> {
    first_pfn: u64,
    frames: [[u64; QWORDS]; FRAMES],
}

impl<const FRAMES: usize> FrameArray<FRAMES> {
    /// Zeroed frames from `first_pfn` on.
    pub fn new(first_pfn: u64) -> Self {
        FrameArray { first_pfn, frames: [[0; QWORDS]; FRAMES] }
    }

    /// Where `spa` lives: (frame index, qword index).
    fn locate(&self, spa: u64) -> Option<(usize, usize)> {
        if spa % 8 != 0 {
            return None;
        }
        let frame = usize::try_from((spa >> 12).checked_sub(self.first_pfn)?).ok()?;
        (frame < FRAMES).then_some((frame, (spa & 0xfff) as usize / 8))
    }

    /// Stores `value` at `spa`; false (and nothing written) when there is no memory there.
    pub fn write(&mut self, spa: u64, value: u64) -> bool {
        match self.locate(spa) {
            Some((frame, index)) => {
                self.frames[frame][index] = value;
                true
            }
            None => false,
        }
    }

    /// Every non-zero qword as `(spa, value)`, in address order.
    pub fn nonzero(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let first = self.first_pfn;
        self.frames.iter().enumerate().flat_map(move |(f, frame)| {
            frame
                .iter()
                .enumerate()
                .filter(|(_, &q)| q != 0)
                .map(move |(i, &q)| ((first + f as u64) << 12 | (i as u64) << 3, q))
        })
    }
}

impl<const FRAMES: usize> PhysMem for FrameArray<FRAMES> {
    fn read_u64(&self, spa: u64) -> Option<u64> {
        self.locate(spa).map(|(frame, index)| self.frames[frame][index])
    }

    fn table(&self, spa: u64) -> Option<&[u64; QWORDS]> {
        match self.locate(spa) {
            Some((frame, 0)) => Some(&self.frames[frame]),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_exist_only_in_their_range() {
        let mut mem = FrameArray::<2>::new(1);
        assert_eq!(mem.read_u64(0x0ff8), None);
        assert_eq!(mem.read_u64(0x1000), Some(0));
        assert_eq!(mem.read_u64(0x2ff8), Some(0));
        assert_eq!(mem.read_u64(0x3000), None);
        assert_eq!(mem.read_u64(0x1004), None, "unaligned");
        assert_eq!(mem.read_u64(!7), None);
        assert!(mem.write(0x2010, 7));
        assert!(mem.write(0x1000, 5));
        assert!(!mem.write(0x3000, 9));
        assert!(!mem.write(0x1001, 9));
        assert_eq!(mem.read_u64(0x2010), Some(7));
        assert_eq!(mem.nonzero().collect::<Vec<_>>(), vec![(0x1000, 5), (0x2010, 7)]);
        // Whole frames are lent at their start only.
        assert_eq!(mem.table(0x2000).map(|t| (t[0], t[2])), Some((0, 7)));
        assert!(mem.table(0x2008).is_none());
        assert!(mem.table(0x3000).is_none());
    }
}
