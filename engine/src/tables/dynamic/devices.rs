//! Devices: DTE settings and their invalidation.

use super::{Dynamic, Seams, Top};
use crate::step::Cx;
use crate::substrate::commands::Command;
use crate::substrate::device_table::{dte_spa, DteSetting, DEVICE_TABLE_ENTRIES};
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
        let fields = self.seams.dte_word0_fields();
        if fields.is_empty() {
            cx.set_dte(dev, setting).await?;
        } else {
            // Not the table's own way: boxed, keeping this future small.
            Box::pin(set_dte_by_fields(cx, dev, setting, fields)).await?;
        }
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

/// Writes `dev`'s DTE as [`Cx::set_dte`] does (qwords 3 to 1, then qword 0), qword 0 field by
/// field ([`Seams::dte_word0_fields`]): loaded, then stored once per field that changes, with
/// that field's new bits, then once more with the rest.
async fn set_dte_by_fields(
    cx: &Cx<'_>,
    dev: u16,
    setting: DteSetting,
    fields: &[u64],
) -> Result<(), PtError> {
    let spa = dte_spa(dev).ok_or(PtError::NoSuchDevice { dev })?;
    let new = setting.encode();
    for i in (1..4).rev() {
        cx.write(spa + 8 * i as u64, new[i]).await?;
    }
    let mut word = cx.read(spa).await?;
    for &field in fields.iter().chain(&[u64::MAX]) {
        let next = (word & !field) | (new[0] & field);
        if next != word {
            cx.write(spa, next).await?;
            word = next;
        }
    }
    Ok(())
}
