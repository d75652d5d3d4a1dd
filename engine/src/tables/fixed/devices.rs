//! Devices: DTE settings and their invalidation.

use super::geometry::LEVELS;
use super::{Fixed, Seams};
use crate::step::Cx;
use crate::substrate::commands::Command;
use crate::substrate::device_table::DteSetting;
use crate::table::PtError;

impl<S: Seams> Fixed<S> {
    /// The mode programmed into DTEs: the height of the table (a seam may choose another).
    pub(super) fn dte_levels(&self) -> u8 {
        self.seams.dte_levels(LEVELS)
    }

    /// Programs `dev`'s DTE (qwords 3 to 1, then qword 0) and invalidates the device table's
    /// cached copy of it.
    pub(super) async fn program_dte(
        &self,
        cx: &Cx<'_>,
        dev: u16,
        setting: DteSetting,
    ) -> Result<(), PtError> {
        cx.set_dte(dev, setting).await?;
        cx.issue(Command::InvalidateDevtabEntry { dev }).await;
        Ok(())
    }
}
