//! Access permissions: the IR/IW pair carried by DTEs, PDEs and PTEs, and the access a DMA
//! request asks for.

use std::fmt;

/// A set of I/O permissions. Used both for what an entry grants and for what a request needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Perm {
    /// IR: DMA reads allowed / requested.
    pub read: bool,
    /// IW: DMA writes allowed / requested.
    pub write: bool,
}

impl Perm {
    /// No access.
    pub const NONE: Perm = Perm { read: false, write: false };
    /// Read only.
    pub const R: Perm = Perm { read: true, write: false };
    /// Write only.
    pub const W: Perm = Perm { read: false, write: true };
    /// Read and write.
    pub const RW: Perm = Perm { read: true, write: true };

    /// The permissions granted by both `self` and `other` (hardware ANDs them along a walk).
    pub fn intersect(self, other: Perm) -> Perm {
        Perm { read: self.read && other.read, write: self.write && other.write }
    }

    /// True when every access in `request` is granted by `self`.
    pub fn allows(self, request: Perm) -> bool {
        (!request.read || self.read) && (!request.write || self.write)
    }

    /// True when nothing is granted.
    pub fn is_empty(self) -> bool {
        !self.read && !self.write
    }
}

impl fmt::Display for Perm {
    /// `r`, `w`, `rw`, or `-` for none: the spelling used by scenario files.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match (self.read, self.write) {
            (true, true) => "rw",
            (true, false) => "r",
            (false, true) => "w",
            (false, false) => "-",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersect_and_allows() {
        assert_eq!(Perm::RW.intersect(Perm::R), Perm::R);
        assert_eq!(Perm::W.intersect(Perm::R), Perm::NONE);
        assert!(Perm::RW.allows(Perm::W));
        assert!(!Perm::R.allows(Perm::W));
        assert!(Perm::R.allows(Perm::NONE));
        assert!(Perm::NONE.is_empty());
        assert_eq!(Perm::RW.to_string(), "rw");
        assert_eq!(Perm::NONE.to_string(), "-");
    }
}
