//! Unix-socket client listeners (`local_ports`): creating the socket file and removing it.
//!
//! Pushpin 1.36 (observed): the socket is created with the process umask's default mode, and
//! whatever file is already at the path is removed first, even a regular file or a socket
//! another server is listening on; the socket file is left behind at exit.
//!
//! gripway, on purpose: a leftover socket nobody answers on (a crash) is replaced, but a socket
//! that another process answers on fails start-up as "address in use", as a taken TCP port does,
//! and a path that is not a socket is never deleted (a typo in `local_ports` must not remove a
//! file). The socket file is removed when the listener closes, if it is still ours. The mode is
//! the umask's default, as in Pushpin.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tokio::net::{UnixListener, UnixStream};

/// A bound unix-socket listener that removes its socket file when dropped.
pub struct LocalListener {
    listener: UnixListener,
    path: PathBuf,
    /// Device and inode of the socket file bound, to remove only our own file.
    id: (u64, u64),
}

impl LocalListener {
    /// Binds a socket at `path`, replacing a stale socket file left there.
    pub async fn bind(path: &Path) -> io::Result<LocalListener> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => {
                if UnixStream::connect(path).await.is_ok() {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        "another process is listening on this socket",
                    ));
                }
                tracing::debug!(path = %path.display(), "removing a stale socket file");
                std::fs::remove_file(path)?;
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "a file that is not a socket is in the way (not removed)",
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let listener = UnixListener::bind(path)?;
        let meta = std::fs::symlink_metadata(path)?;
        Ok(LocalListener {
            listener,
            path: path.to_path_buf(),
            id: (meta.dev(), meta.ino()),
        })
    }

    /// The socket file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts one client.
    pub async fn accept(&self) -> io::Result<UnixStream> {
        self.listener.accept().await.map(|(sock, _)| sock)
    }
}

impl Drop for LocalListener {
    fn drop(&mut self) {
        // Another instance may have replaced the file since: leave theirs alone.
        let ours = std::fs::symlink_metadata(&self.path)
            .map(|m| (m.dev(), m.ino()) == self.id)
            .unwrap_or(false);
        if ours {
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove the socket file");
            }
        }
    }
}
