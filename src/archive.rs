//! Deterministic zip archives of a directory, for Lambda function code.
//!
//! Lambda identifies code by the SHA-256 of the zip it was given (`CodeSha256`), so the same
//! files must always make the same bytes: entries are sorted by path, every timestamp is the
//! zip epoch (1980-01-01), and permissions are reduced to 0644, or 0755 for executables (a
//! custom runtime's `bootstrap` must stay executable). File contents are all that matter.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// The largest archive Lambda accepts inline (CreateFunction's `ZipFile`); bigger code goes
/// through S3.
pub const MAX_INLINE_ZIP_BYTES: usize = 50 * 1024 * 1024;

/// Lambda's limit on a function's code unzipped; a directory holding more is not code.
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;

/// Zips every file under `dir` (following symbolic links), with paths relative to `dir`.
/// Refuses a directory that links back into itself, holds anything but files and directories
/// (a device or a pipe could be read forever), or more than [`MAX_UNZIPPED_BYTES`].
pub fn zip_directory(dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut walk = Walk {
        root: dir,
        ancestors: Vec::new(),
        total: 0,
        files: Vec::new(),
    };
    walk.collect(dir)?;
    let mut files = walk.files;
    files.sort();
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for relative in files {
        let path = dir.join(&relative);
        let executable = is_executable(&path)?;
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(DateTime::default())
            .unix_permissions(if executable { 0o755 } else { 0o644 });
        let name: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        zip.start_file(name.join("/"), options)
            .map_err(std::io::Error::other)?;
        zip.write_all(&read_at_most(&path, MAX_UNZIPPED_BYTES)?)?;
    }
    Ok(zip.finish().map_err(std::io::Error::other)?.into_inner())
}

/// Reads a file, failing once it is longer than `limit` bytes instead of reading on.
pub fn read_at_most(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "`{}` is larger than {limit} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

/// A walk of a code directory: the files found so far, their total size, and the real paths
/// of the directories being walked, to notice a symbolic link back into one of them.
struct Walk<'a> {
    root: &'a Path,
    ancestors: Vec<PathBuf>,
    total: u64,
    files: Vec<PathBuf>,
}

impl Walk<'_> {
    fn collect(&mut self, dir: &Path) -> std::io::Result<()> {
        let real = std::fs::canonicalize(dir)?;
        if self.ancestors.contains(&real) {
            return Err(std::io::Error::other(format!(
                "`{}` links back to a directory that contains it",
                dir.display()
            )));
        }
        self.ancestors.push(real);
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let meta = std::fs::metadata(&path)?;
            if meta.is_dir() {
                self.collect(&path)?;
            } else if meta.is_file() {
                self.total += meta.len();
                if self.total > MAX_UNZIPPED_BYTES {
                    return Err(std::io::Error::other(format!(
                        "the files under `{}` are more than {MAX_UNZIPPED_BYTES} bytes, Lambda's limit for code unzipped",
                        self.root.display()
                    )));
                }
                self.files.push(
                    path.strip_prefix(self.root)
                        .map_err(std::io::Error::other)?
                        .to_path_buf(),
                );
            } else {
                return Err(std::io::Error::other(format!(
                    "`{}` is neither a file nor a directory",
                    path.display()
                )));
            }
        }
        self.ancestors.pop();
        Ok(())
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &Path) -> std::io::Result<bool> {
    Ok(false)
}

/// The SHA-256 of `bytes`, base64-encoded: how Lambda reports `CodeSha256`.
pub fn code_sha256(bytes: &[u8]) -> String {
    aws_smithy_types::base64::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn write(dir: &Path, name: &str, text: &str, modified: SystemTime) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(modified)
            .unwrap();
    }

    #[test]
    fn the_same_files_make_the_same_archive_whatever_their_timestamps() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let new = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        // Written in a different order, at different times.
        write(
            a.path(),
            "main.py",
            "def handler(event, context):\n    return 1\n",
            old,
        );
        write(a.path(), "lib/util.py", "X = 1\n", old);
        write(b.path(), "lib/util.py", "X = 1\n", new);
        write(
            b.path(),
            "main.py",
            "def handler(event, context):\n    return 1\n",
            new,
        );
        let (za, zb) = (
            zip_directory(a.path()).unwrap(),
            zip_directory(b.path()).unwrap(),
        );
        assert_eq!(code_sha256(&za), code_sha256(&zb));

        write(b.path(), "lib/util.py", "X = 2\n", new);
        assert_ne!(
            code_sha256(&za),
            code_sha256(&zip_directory(b.path()).unwrap()),
            "content changes the hash"
        );
    }

    #[test]
    fn entries_are_sorted_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        write(dir.path(), "b.txt", "b", now);
        write(dir.path(), "a/z.txt", "z", now);
        let bytes = zip_directory(dir.path()).unwrap();
        let archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let names: Vec<&str> = archive.file_names().collect();
        assert_eq!(names, ["a/z.txt", "b.txt"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_linking_back_into_itself_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "main.py", "x", SystemTime::now());
        std::os::unix::fs::symlink(dir.path(), dir.path().join("again")).unwrap();
        let error = zip_directory(dir.path()).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("links back to a directory that contains it"),
            "{error}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_refused_and_reads_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).unwrap();
        assert!(zip_directory(dir.path())
            .unwrap_err()
            .to_string()
            .contains("neither a file nor a directory"));
        assert!(read_at_most(Path::new("/dev/zero"), 1024)
            .unwrap_err()
            .to_string()
            .contains("larger than 1024 bytes"));
    }

    #[test]
    fn code_sha256_is_base64_like_lambdas() {
        assert_eq!(
            code_sha256(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }
}
