//! Integration tests of the oracle: the walk's rules one by one, the page sizes of every
//! level, the concrete vectors of amd-vi.md section 8, the enumerator, and walk == enumerate
//! on thousands of random (garbage) trees.
//!
//! Entries are built by the helpers in `common`, which restate the bit positions of the
//! format from the specification instead of using the crate's `format` module.

mod common;
mod enumerate;
mod random_trees;
mod spec_vectors;
mod walk_faults;
mod walk_translations;
