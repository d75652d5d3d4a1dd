//! The IOMMU command log: the invalidation commands an implementation issued, in order, for the
//! cache model to replay (a cached translation may be dropped only by a command that covers it).

/// An IOMMU command relevant to translation caches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// INVALIDATE_DEVTAB_ENTRY: drop cached copies of device `dev`'s DTE.
    InvalidateDevtabEntry { dev: u16 },
    /// INVALIDATE_IOMMU_PAGES: drop cached translations of `domain` for the IOVA range
    /// `[dfn << 12, (dfn + 2^order) << 12)`; `order` 52 or more means every page.
    InvalidateIommuPages { domain: u16, dfn: u64, order: u32 },
    /// COMPLETION_WAIT: earlier commands have taken effect when this completes.
    CompletionWait,
}

/// Order meaning "all pages of the domain" in [`Command::InvalidateIommuPages`].
pub const ALL_PAGES_ORDER: u32 = 52;

/// Commands in issue order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandLog {
    commands: Vec<Command>,
}

impl CommandLog {
    /// Appends one command.
    pub fn push(&mut self, command: Command) {
        self.commands.push(command);
    }

    /// Every command issued so far.
    pub fn commands(&self) -> &[Command] {
        &self.commands
    }

    /// Number of commands issued so far (a cursor for reading only new ones).
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// True when nothing was issued.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Commands issued since `cursor` (an earlier [`CommandLog::len`]).
    pub fn since(&self, cursor: usize) -> &[Command] {
        self.commands.get(cursor..).unwrap_or(&[])
    }
}
