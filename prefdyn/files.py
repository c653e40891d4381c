"""Writing files that survive crashes, races and hostile folders.

* :func:`atomic_write` -- a unique temporary file in the same folder, ``fsync``'ed, renamed into
  place, the folder ``fsync``'ed: a reader sees the old file or the whole new one, never a torn
  one, even after a power loss.
* :func:`inside` -- a path resolved and proven to lie inside a root folder (``..``, absolute
  paths and symbolic links out of it are refused) before anything is deleted or overwritten.
* :class:`FolderLock` -- an exclusive lock per output folder or cache (the ``filelock`` library),
  held for the whole command; a second writer gets ``"<field>: DIR is in use by PID N"`` (exit 2).
  The lock file ``.NAME.prefdyn-lock`` (and ``.NAME.prefdyn-lock.pid``, the holder's PID) sit
  beside the folder, not in it, so that a folder can be swapped while locked.
* :func:`write_sealed` / :func:`read_sealed` -- a payload with a header carrying its SHA-256,
  length and provenance (what made it: config hash, seed, ...). A truncated or altered file is
  :class:`Corrupt`; one with other provenance is :class:`Foreign`. The payload is bytes; callers
  store tensors as ``torch.save`` data read back with ``torch.load(weights_only=True)``, which
  cannot run code.
* :func:`staged_folder` -- an output folder built in a temporary sibling and swapped in whole at
  the end (Linux ``renameat2(RENAME_EXCHANGE)``, else two renames); an interrupted build leaves the
  previous folder exactly as it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Self

from prefdyn.errors import PrefdynError, output_directory, require

SEAL_MAGIC = b"PREFDYN-SEALED 1\n"
#: longest header a sealed file may have (a header is a short JSON object)
_MAX_HEADER = 64 * 1024


# --------------------------------------------------------------------------- atomic writes


def cache_root() -> Path:
    """The root of prefdyn's on-disk caches: ``$PREFDYN_CACHE``, else ``~/.cache/prefdyn``."""
    return Path(os.environ.get("PREFDYN_CACHE") or Path.home() / ".cache" / "prefdyn")


def fsync_folder(folder: Path) -> None:
    """Make a rename or creation in ``folder`` durable (best effort where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temporary_name(path: Path, kind: str = "tmp") -> Path:
    """A fresh hidden name beside ``path``, unique to this process and call."""
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}")


def atomic_write(path: str | Path, data: bytes | str | Callable[[Path], object]) -> None:
    """Write ``data`` (bytes, text, or a function writing a given path) to ``path`` atomically
    and durably: unique temporary file, ``fsync``, rename, ``fsync`` of the folder."""
    target = Path(path)
    tmp = temporary_name(target)
    try:
        if callable(data):
            data(tmp)
        else:
            with open(tmp, "xb") as handle:
                handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_folder(target.parent)


# --------------------------------------------------------------------------- containment


def inside(root: str | Path, relative: str | Path, field: str) -> Path:
    """``root / relative`` resolved, proven inside ``root`` (refuses ``..``, absolute paths,
    links out of ``root``, NUL bytes)."""
    text = str(relative)
    base = Path(root).resolve()
    if "\x00" in text or text == "" or Path(text).is_absolute() or ".." in Path(text).parts:
        raise PrefdynError(f"{field}: {text!r} is not a path inside {base}")
    target = (base / text).resolve()
    if target != base and base not in target.parents:
        raise PrefdynError(f"{field}: {text!r} leads outside {base}")
    return target


def check_writable(folder: str | Path, field: str) -> None:
    """Refuse, before any work, a ``folder`` (or, when absent, its nearest existing ancestor)
    that this process cannot create files in."""
    path = Path(os.path.abspath(folder))
    while not path.exists() and path != path.parent:
        path = path.parent
    if not path.is_dir():
        raise PrefdynError(f"{field}: {path} is not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise PrefdynError(f"{field}: cannot write in {path} (permission denied)")


# --------------------------------------------------------------------------- locks


class FolderLock:
    """Exclusive lock on an output folder (or a cache) for the life of a command.

    ``with FolderLock(folder, "out"):`` -- a second process gets ``PrefdynError("out: FOLDER is
    in use by PID N")`` at once (``wait`` > 0: after waiting that many seconds).
    """

    def __init__(self, folder: str | Path, field: str, wait: float = 0) -> None:
        self.folder = Path(os.path.realpath(folder))  # one lock whatever link leads there
        self.field = field
        self.wait = wait
        self.path = self.folder.parent / f".{self.folder.name}.prefdyn-lock"
        self.owner = self.path.with_name(self.path.name + ".pid")
        self._lock: Any = None

    def holder(self) -> str:
        """The PID recorded by the holder (``"unknown"`` while it is being written)."""
        try:
            text = self.owner.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return "unknown"
        return text if text.isdigit() else "unknown"

    def __enter__(self) -> Self:
        from filelock import FileLock, Timeout

        try:
            self.folder.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise PrefdynError(f"{self.field}: cannot create {self.folder.parent} ({err.strerror})") from None
        lock = FileLock(str(self.path), timeout=self.wait)
        try:
            lock.acquire()
        except Timeout:
            raise PrefdynError(
                f"{self.field}: {self.folder} is in use by PID {self.holder()} "
                "(another prefdyn command is writing there); wait for it to finish "
                "or choose another directory"
            ) from None
        except OSError as err:
            raise PrefdynError(f"{self.field}: cannot lock {self.folder} ({err.strerror or err})") from None
        self._lock = lock
        try:
            atomic_write(self.owner, f"{os.getpid()}\n")
        except OSError:
            pass  # the lock holds without the PID note
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock is None:
            return
        if self.holder() == str(os.getpid()):
            with contextlib.suppress(OSError):
                self.owner.unlink()
        self._lock.release()
        self._lock = None


# --------------------------------------------------------------------------- sealed files


def open_resumable(out: Path, manifest: Mapping[str, Any], resume: bool, what: str) -> bool:
    """Make ``out`` ready for a resumable run described by ``manifest`` (hold its lock).

    Parameters
    ----------
    out : Path
        The output folder.
    manifest : mapping
        The run's ``manifest.json``; a continued run's must agree on every key.
    resume : bool
        Whether an earlier run in ``out`` may be continued.
    what : str
        The command (``simulate``, ``sweep``), for the messages.

    Returns
    -------
    bool
        ``True`` when an earlier run is continued; ``False`` when ``out`` was new or empty (its
        manifest is then written).

    Raises
    ------
    PrefdynError
        A folder with other files, an earlier run without ``resume``, or a manifest that is not
        JSON or disagrees.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     open_resumable(Path(folder), {"seed": 1}, False, "simulate"), open_resumable(Path(folder), {"seed": 1}, True, "simulate")
    (False, True)
    """
    existing = out / "manifest.json"
    if existing.exists():
        require(
            resume,
            "out",
            f"{out} already holds {what} results; pass --resume to continue them or choose another directory",
        )
        try:
            found = json.loads(existing.read_bytes().decode("utf-8"))
        except (OSError, ValueError, RecursionError):
            raise PrefdynError(f"resume: {existing} is not a prefdyn {what} manifest (not UTF-8 JSON)") from None
        require(isinstance(found, dict), "resume", f"{existing} is not a prefdyn {what} manifest")
        for key, value in manifest.items():
            require(
                found.get(key) == value, "resume", f"{out} was written with {key} = {found.get(key)!r}, not {value!r}"
            )
        return True
    output_directory(out, "out")
    require(not any(out.iterdir()), "out", f"{out} holds other files; choose an empty or new directory")
    atomic_write(existing, json.dumps(dict(manifest), indent=2))
    return False


class Corrupt(Exception):
    """A sealed file that is empty, truncated or altered (its checksum does not match)."""


class Foreign(Exception):
    """A sealed file that is intact but was made by something else (other provenance), or
    that is not a sealed prefdyn file at all."""


def write_sealed(path: str | Path, payload: bytes, provenance: Mapping[str, Any]) -> None:
    """Write ``payload`` with a header (SHA-256, length, ``provenance``), atomically and
    durably."""
    header = {"sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload), "provenance": dict(provenance)}
    blob = SEAL_MAGIC + json.dumps(header, sort_keys=True).encode("ascii") + b"\n" + payload
    atomic_write(path, blob)


def read_sealed(path: str | Path, provenance: Mapping[str, Any]) -> bytes:
    """The payload of a sealed file whose checksum matches and whose provenance agrees with
    ``provenance`` on every key given; else :class:`Corrupt` or :class:`Foreign` (with the
    reason)."""
    file = Path(path)
    st = os.stat(file, follow_symlinks=False)
    if not stat.S_ISREG(st.st_mode):
        raise Foreign("not a regular file")
    blob = file.read_bytes()
    if not blob:
        raise Corrupt("empty (truncated)")
    if not blob.startswith(SEAL_MAGIC):
        if SEAL_MAGIC.startswith(blob):
            raise Corrupt("truncated")
        raise Foreign("not a sealed prefdyn file")
    end = blob.find(b"\n", len(SEAL_MAGIC), len(SEAL_MAGIC) + _MAX_HEADER)
    if end < 0:
        raise Corrupt("truncated header")
    try:
        header = json.loads(blob[len(SEAL_MAGIC) : end].decode("ascii"))
        digest, size, found = header["sha256"], header["size"], header["provenance"]
    except (ValueError, KeyError, TypeError):
        raise Corrupt("unreadable header") from None
    payload = blob[end + 1 :]
    if not isinstance(size, int) or len(payload) != size:
        raise Corrupt(f"truncated ({len(payload)} of {size} payload bytes)")
    if hashlib.sha256(payload).hexdigest() != digest:
        raise Corrupt("checksum mismatch")
    if not isinstance(found, dict):
        raise Corrupt("unreadable header")
    for key, value in provenance.items():
        if found.get(key) != value:
            raise Foreign(f"written with {key} = {found.get(key)!r}, not {value!r}")
    return payload


# --------------------------------------------------------------------------- staged folders

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_BUILD_MARK = ".prefdyn-build"


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); ``False`` when this
    system or file system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _remove_build(folder: Path) -> None:
    """Delete a build folder this module made (it holds the build mark); nothing else."""
    if folder.is_dir() and not folder.is_symlink() and (folder / _BUILD_MARK).is_file():
        shutil.rmtree(folder, ignore_errors=True)


def remove_stale_builds(target: Path) -> None:
    """Remove build folders of ``target`` left by killed runs (call with the lock held)."""
    for stale in target.parent.glob(f".{target.name}.build-*"):
        _remove_build(stale)
    for stale in target.parent.glob(f".{target.name}.old-*"):
        _remove_build(stale)


@contextlib.contextmanager
def staged_folder(target: str | Path, discard: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Yield an empty temporary sibling of ``target``; on success it replaces ``target``
    whole, on any exception or interrupt it is deleted and ``target`` is untouched. Hold the
    folder's :class:`FolderLock`. The replaced folder is deleted when ``discard(folder)`` says
    so (default: always); otherwise it is kept beside ``target`` under a hidden name."""
    final = Path(os.path.abspath(target))
    build = temporary_name(final, "build")
    build.mkdir()
    (build / _BUILD_MARK).write_bytes(b"")
    try:
        yield build
        for path in sorted(build.rglob("*"), reverse=True):  # contents durable before the swap
            if path.is_file() and not path.is_symlink():
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
            elif path.is_dir():
                fsync_folder(path)
        fsync_folder(build)
        if not final.exists():
            os.rename(build, final)
        else:
            old = temporary_name(final, "old")
            if _exchange(build, final):
                os.rename(build, old)  # the previous folder, which now sat at the build name
            else:
                os.rename(final, old)
                os.rename(build, final)
            if discard is None or discard(old):
                (old / _BUILD_MARK).write_bytes(b"")  # the replaced folder is ours to delete now
                _remove_build(old)
        (final / _BUILD_MARK).unlink()
        fsync_folder(final.parent)
    except BaseException:
        if (build / _BUILD_MARK).is_file() and not final.joinpath(_BUILD_MARK).is_file():
            _remove_build(build)
        raise


@contextlib.contextmanager
def staged_files(target: str | Path) -> Iterator[Path]:
    """Yield an empty temporary sibling of ``target``; on success its files are moved into
    ``target`` (the whole folder is renamed into place when ``target`` is absent or empty,
    else each file replaces its namesake atomically, other files in ``target`` are kept); on
    any exception or interrupt it is deleted and ``target`` is untouched. Hold the folder's
    :class:`FolderLock`."""
    final = Path(os.path.abspath(target))
    build = temporary_name(final, "build")
    build.mkdir()
    (build / _BUILD_MARK).write_bytes(b"")
    try:
        yield build
        files = [p for p in sorted(build.rglob("*")) if p.is_file() and p.name != _BUILD_MARK]
        for path in files:
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        if not final.exists() or (final.is_dir() and not any(final.iterdir())):
            os.rename(build, final)
            (final / _BUILD_MARK).unlink()
        else:
            for path in files:
                dest = inside(final, path.relative_to(build).as_posix(), str(final))
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, dest)
                fsync_folder(dest.parent)
            _remove_build(build)
        fsync_folder(final.parent)
    except BaseException:
        _remove_build(build)
        raise
