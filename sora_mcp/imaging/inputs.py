"""Turning what an agent passes as `image` (a path, a file:// URL or a data: URL) into something safe to decode.

An agent's path is untrusted: it may point at `~/.ssh`, through a symlink, at a FIFO that blocks forever or
at a 10 GB file. Paths are resolved through every symlink *before* the allowed-directory check, which looks
only at where a path leads, never at whether something is there (so errors cannot be used to probe outside
the allowed directories, nor show a symlink's target). Only regular files of bounded size are accepted, and
data URLs are size-checked before they are decoded. No allowed directory means no file may be read at all.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sora_mcp.imaging.errors import ImageInputError

MAX_FILE_BYTES = 200 * 1024 * 1024
"""Largest input file: a 200 MP JPEG at high quality is well under this."""
MAX_DATA_URL_BYTES = 20 * 1024 * 1024
"""Largest decoded data: URL payload; bigger images belong in a file, not in a tool-call argument."""

_DATA_URL = re.compile(r"^data:(?P<meta>[^,]*),(?P<data>.*)$", re.DOTALL | re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def read_image_input(
    image: str,
    allowed_dirs: Sequence[Path],
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_data_url_bytes: int = MAX_DATA_URL_BYTES,
    allowed_origin: str = "",
) -> Path | bytes:
    """A checked file path (symlinks resolved, inside `allowed_dirs`) or the decoded bytes of a data: URL.

    `allowed_origin` says where the allowed directories came from (e.g. "the client's roots"); it is added
    to the error message so the user knows what to change.
    """
    text = image.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1].strip()
    if not text:
        raise ImageInputError("image is empty; pass a file path or a data: URL (data:image/png;base64,...)")
    if text[:5].lower() == "data:":
        return decode_data_url(text, max_data_url_bytes)
    scheme = urlsplit(text).scheme.lower() if "://" in text[:16] else ""
    if scheme in ("http", "https", "ftp"):
        raise ImageInputError(
            f"image '{_short(text)}' is a {scheme} URL; this server does not download files. Save the image in "
            "an allowed folder and pass its path, or pass it as a data: URL"
        )
    if scheme == "file":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise ImageInputError(f"image '{_short(text)}' is a file URL on another host ('{parts.netloc}')")
        text = unquote(parts.path)
    elif scheme:
        raise ImageInputError(f"image '{_short(text)}' is a {scheme}: URL; pass a file path or a data: URL")
    return resolve_allowed_path(text, allowed_dirs, max_file_bytes=max_file_bytes, allowed_origin=allowed_origin)


def resolve_allowed_path(
    text: str,
    allowed_dirs: Sequence[Path],
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    allowed_origin: str = "",
) -> Path:
    """Resolve `text` through symlinks and accept it only inside an allowed directory; relative paths are tried
    against each allowed directory in turn (an agent's working directory is not the server's).

    The containment check comes first and does not look at whether the target exists, so a path outside gets
    the same answer whether or not there is a file (no probing of `~/.ssh`), and no message shows where a
    symlink points. Only inside the allowed directories may an error say that a file is missing.
    """
    if "\x00" in text:
        raise ImageInputError("image path contains a NUL character")
    roots = _resolved_dirs(allowed_dirs)
    if not roots:
        data_url = "An image passed as a data: URL (data:image/png;base64,...) still works"
        if allowed_origin:
            raise ImageInputError(f"no image file may be read: {allowed_origin}. {data_url}")
        raise ImageInputError(
            "no directories are allowed for input images; set SORA_MCP_ALLOWED_DIRS (or, in an MCP client, share "
            f"the image's folder as a root). {data_url}"
        )
    where = ", ".join(str(d) for d in roots) + (f" ({allowed_origin})" if allowed_origin else "")
    path = Path(text).expanduser()
    candidates = [path] if path.is_absolute() else [root / path for root in roots]
    inside = [c for c in (_lexically_resolved(c) for c in candidates) if any(c.is_relative_to(r) for r in roots)]
    if not inside:
        raise ImageInputError(
            f"image file '{_short(text)}' is not inside the directories images may be read from: {where}. "
            "Copy the image into one of them, or share its folder (as a client root, or in SORA_MCP_ALLOWED_DIRS)"
        )
    for candidate in inside:
        try:
            resolved = candidate.resolve(strict=True)
        except FileNotFoundError:
            continue
        except (OSError, RuntimeError):
            raise ImageInputError(
                f"image path '{_short(text)}' cannot be resolved (a symbolic link loop or an unreadable folder)"
            ) from None
        if any(resolved.is_relative_to(r) for r in roots):  # the tree changed between the two looks
            return check_image_file(resolved, max_file_bytes=max_file_bytes, shown=text)
    if path.is_absolute():
        raise ImageInputError(f"image file '{_short(text)}' does not exist")
    raise ImageInputError(f"image file '{_short(text)}' was not found in the allowed directories: {where}")


def _lexically_resolved(path: Path) -> Path:
    """`path` with every existing symlink followed and `..` applied; never fails, never needs the file."""
    try:
        return path.resolve(strict=False)
    except (OSError, RuntimeError):
        return Path(os.path.normpath(path))


def check_image_file(path: Path, *, max_file_bytes: int = MAX_FILE_BYTES, shown: str | None = None) -> Path:
    """Accept only a regular, non-empty file of at most `max_file_bytes` (never a FIFO, device or directory).

    `shown` is how the file is named in errors (the caller's own text, so a symlink's target is not revealed).
    """
    name = _short(shown) if shown is not None else str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ImageInputError(f"image file '{name}' does not exist") from None
    except OSError as exc:
        raise ImageInputError(f"image file '{name}' cannot be read: {exc.strerror or 'access denied'}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageInputError(f"'{name}' is a directory, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise ImageInputError(f"'{name}' is not a regular file (a device, pipe or socket); pass an image file")
    if info.st_size == 0:
        raise ImageInputError(f"image file '{name}' is empty (0 bytes)")
    if info.st_size > max_file_bytes:
        raise ImageInputError(
            f"image file '{name}' is {_mb(info.st_size)}; the limit is {_mb(max_file_bytes)}. Downscale it first"
        )
    if not os.access(path, os.R_OK):
        raise ImageInputError(f"image file '{name}' is not readable (permission denied)")
    return path


def decode_data_url(text: str, max_bytes: int = MAX_DATA_URL_BYTES) -> bytes:
    """The bytes of a base64 `data:image/...` URL, refusing oversized payloads before decoding them."""
    match = _DATA_URL.match(text)
    if match is None:
        raise ImageInputError("image is a malformed data: URL; expected data:image/png;base64,<base64 data>")
    meta = [part.strip().lower() for part in match.group("meta").split(";")]
    media_type = meta[0]
    if "base64" not in meta[1:]:
        raise ImageInputError("image data: URL is not base64-encoded; expected data:image/png;base64,<base64 data>")
    if media_type and not media_type.startswith("image/") and media_type != "application/octet-stream":
        raise ImageInputError(
            f"image data: URL has media type '{media_type}'; expected an image (image/jpeg, image/png, image/webp)"
        )
    payload = match.group("data")
    limit_chars = 4 * ((max_bytes + 2) // 3)
    if len(payload) > limit_chars * 1.05 + 1024:  # allow line breaks before stripping whitespace
        raise ImageInputError(
            f"image data: URL carries about {_mb(len(payload) * 3 // 4)}; the limit is {_mb(max_bytes)}. "
            "Save the image in an allowed folder and pass its path instead"
        )
    payload = _WHITESPACE.sub("", payload)
    if len(payload) > limit_chars:
        raise ImageInputError(
            f"image data: URL carries about {_mb(len(payload) * 3 // 4)}; the limit is {_mb(max_bytes)}. "
            "Save the image in an allowed folder and pass its path instead"
        )
    payload += "=" * (-len(payload) % 4)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        try:
            data = base64.b64decode(payload, altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise ImageInputError("image data: URL is not valid base64") from None
    if not data:
        raise ImageInputError("image data: URL is empty (0 bytes)")
    if len(data) > max_bytes:
        raise ImageInputError(f"image data: URL carries {_mb(len(data))}; the limit is {_mb(max_bytes)}")
    return data


def dirs_from_roots(uris: Iterable[str]) -> tuple[Path, ...]:
    """Local directories named by MCP roots: `file:///x` or `file://localhost/x`, nothing else.

    Other schemes and `file://otherhost/...` cannot name a folder on this machine; they are dropped, and an
    empty result means no image file may be read (never a fallback to configured folders).
    """
    dirs: list[Path] = []
    for uri in uris:
        local = local_root(uri)
        if local is not None:
            dirs.append(local)
    return tuple(dirs)


def local_root(uri: str) -> Path | None:
    """The absolute local folder a root URI names, or None when it names none."""
    try:
        parts = urlsplit(uri.strip())
    except ValueError:
        return None
    if parts.scheme.lower() != "file" or parts.netloc.lower() not in ("", "localhost"):
        return None
    path = unquote(parts.path)
    if not path.startswith("/") or "\x00" in path:
        return None
    return Path(path)


def _resolved_dirs(dirs: Sequence[Path]) -> list[Path]:
    resolved: list[Path] = []
    for directory in dirs:
        try:
            resolved.append(directory.expanduser().resolve())
        except (OSError, RuntimeError):
            continue
    return resolved


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
