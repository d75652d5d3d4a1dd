//! Reading an input file without trusting it: only regular files, at most
//! [`MAX_INPUT_BYTES`], and never a blocking open.
//!
//! The file type is checked on the path's metadata *before* the file is opened (opening a FIFO
//! for reading blocks until a writer appears); the open itself is non-blocking on Unix, the
//! opened file is checked again, and the read stops after `MAX_INPUT_BYTES + 1` bytes, so a
//! file swapped or grown in between is still refused rather than read without bound.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;
use thiserror::Error;

/// Largest input file `run`, `repro` and `minimize` read (4 MiB). A scenario has at most
/// [`crate::scenario::MAX_OPS`] operations, about 200 KiB of text.
pub const MAX_INPUT_BYTES: u64 = 4 << 20;

/// Why an input file was not read.
#[derive(Debug, Error)]
pub enum InputError {
    #[error("no such file or directory")]
    NotFound,
    #[error("is a directory, not a file")]
    Directory,
    #[error("is a {0}, not a regular file; ptdiff reads only regular files")]
    Special(&'static str),
    #[error("is {size} bytes, over the input limit of {MAX_INPUT_BYTES} bytes ({} MiB)", MAX_INPUT_BYTES >> 20)]
    TooLarge { size: u64 },
    #[error("grew past the input limit of {MAX_INPUT_BYTES} bytes ({} MiB) while being read", MAX_INPUT_BYTES >> 20)]
    Grew,
    #[error("cannot read: {0}")]
    Io(io::Error),
}

impl From<io::Error> for InputError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::NotFound => InputError::NotFound,
            _ => InputError::Io(e),
        }
    }
}

/// What a path names, from its metadata (symbolic links followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file of this many bytes.
    File(u64),
    Directory,
    /// Anything else, named for messages ("FIFO (named pipe)", "character device", ...).
    Special(&'static str),
}

/// The kind of `path`, without opening it.
pub fn kind(path: &Path) -> Result<Kind, InputError> {
    Ok(kind_of(&std::fs::metadata(path)?))
}

fn kind_of(metadata: &Metadata) -> Kind {
    let file_type = metadata.file_type();
    if file_type.is_file() {
        return Kind::File(metadata.len());
    }
    if file_type.is_dir() {
        return Kind::Directory;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return Kind::Special("FIFO (named pipe)");
        }
        if file_type.is_char_device() {
            return Kind::Special("character device");
        }
        if file_type.is_block_device() {
            return Kind::Special("block device");
        }
        if file_type.is_socket() {
            return Kind::Special("socket");
        }
    }
    Kind::Special("special file")
}

/// Reads the regular file at `path`, refusing anything else and anything over
/// [`MAX_INPUT_BYTES`].
pub fn read(path: &Path) -> Result<Vec<u8>, InputError> {
    check(kind(path)?)?;
    let mut file = open(path)?;
    check(kind_of(&file.metadata()?))?;
    let mut bytes = Vec::new();
    file.by_ref().take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputError::Grew);
    }
    Ok(bytes)
}

/// Accepts a regular file within the limit.
fn check(kind: Kind) -> Result<(), InputError> {
    match kind {
        Kind::File(size) if size > MAX_INPUT_BYTES => Err(InputError::TooLarge { size }),
        Kind::File(_) => Ok(()),
        Kind::Directory => Err(InputError::Directory),
        Kind::Special(what) => Err(InputError::Special(what)),
    }
}

/// Opens for reading without blocking, should the path have become a FIFO since it was checked.
fn open(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_inclusive() {
        assert!(check(Kind::File(MAX_INPUT_BYTES)).is_ok());
        assert!(matches!(
            check(Kind::File(MAX_INPUT_BYTES + 1)),
            Err(InputError::TooLarge { size }) if size == MAX_INPUT_BYTES + 1
        ));
    }

    #[test]
    fn a_missing_file_is_named_as_such() {
        let e = read(Path::new("no/such/file.scn")).unwrap_err();
        assert_eq!(e.to_string(), "no such file or directory");
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_refused_before_reading() {
        let e = read(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "is a character device, not a regular file; ptdiff reads only regular files"
        );
    }
}
