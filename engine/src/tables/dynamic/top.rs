//! Where the top (root and height) is kept: the one top cell of the shared state, read and
//! written in one step; or, a seam, two spare cells (root, then height), each a step.

use super::{Dynamic, Seams, Top};
use crate::step::{Cx, Shared};
use crate::table::PtError;

/// The spare cell holding the root (with bit 0 set: present), then the one holding the height.
const ROOT_CELL: u8 = 0;
const LEVELS_CELL: u8 = 1;

/// The top of two cells' values.
fn of_cells(root: u64, levels: u64) -> Option<Top> {
    (root & 1 == 1).then(|| Top { root: root & !1, levels: u8::try_from(levels).unwrap_or(0) })
}

impl<S: Seams> Dynamic<S> {
    /// The current root and height, or [`PtError::TornDown`].
    pub(super) async fn read_top(&self, cx: &Cx<'_>) -> Result<Top, PtError> {
        let top = if self.seams.top_in_two_cells() {
            let root = cx.cell(ROOT_CELL).await;
            of_cells(root, cx.cell(LEVELS_CELL).await)
        } else {
            cx.top().await
        };
        top.ok_or(PtError::TornDown)
    }

    /// Publishes `top` (`None`: torn down).
    pub(super) async fn write_top(&self, cx: &Cx<'_>, top: Option<Top>) {
        if self.seams.top_in_two_cells() {
            cx.set_cell(ROOT_CELL, top.map_or(0, |t| t.root | 1)).await;
            cx.set_cell(LEVELS_CELL, top.map_or(0, |t| u64::from(t.levels))).await;
        } else {
            cx.set_top(top).await;
        }
    }

    /// The top as `shared` holds it now (not a step).
    pub(super) fn top_of(&self, shared: &Shared) -> Option<Top> {
        if self.seams.top_in_two_cells() {
            let cell = |c: u8| shared.cells[usize::from(c)];
            of_cells(cell(ROOT_CELL), cell(LEVELS_CELL))
        } else {
            shared.top
        }
    }
}
