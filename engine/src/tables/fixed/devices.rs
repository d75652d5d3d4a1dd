//! Devices: DTE settings and their invalidation.

use super::geometry::LEVELS;
use super::{Fixed, Seams};
use crate::substrate::commands::Command;
use crate::substrate::device_table::DteSetting;
use crate::table::PtError;

impl<S: Seams> Fixed<S> {
    /// The mode programmed into DTEs: the height of the table (a seam may choose another).
    pub(super) fn dte_levels(&mut self) -> u8 {
        self.seams.dte_levels(LEVELS)
    }

    /// Programs `dev`'s DTE and invalidates the device table's cached copy of it.
    pub(super) fn program_dte(&mut self, dev: u16, setting: DteSetting) -> Result<(), PtError> {
        self.iommu.set_dte(dev, setting)?;
        self.iommu.issue(Command::InvalidateDevtabEntry { dev });
        Ok(())
    }
}
