//! Devices: DTE settings and their invalidation.

use super::{Dynamic, Seams, Top};
use crate::step::Cx;
use crate::substrate::commands::Command;
use crate::substrate::device_table::{DteSetting, DEVICE_TABLE_ENTRIES};
use crate::table::PtError;

impl<S: Seams> Dynamic<S> {
    /// The DTE setting that translates through `top`.
    pub(super) fn translate_setting(&self, top: Top) -> DteSetting {
        DteSetting::Translate { domain: self.domain(), root: top.root, levels: top.levels }
    }

    /// Writes `dev`'s DTE and invalidates the IOMMU's copy (the caller waits for completion).
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

    /// [`PtError::NoSuchDevice`] for device IDs beyond the device table.
    pub(super) fn check_device(dev: u16) -> Result<(), PtError> {
        if u32::from(dev) < DEVICE_TABLE_ENTRIES {
            Ok(())
        } else {
            Err(PtError::NoSuchDevice { dev })
        }
    }
}
