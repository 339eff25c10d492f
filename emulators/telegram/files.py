"""Files the bot sends: uploaded bytes, a ``file_id`` it got earlier, or a URL for Telegram to fetch."""

from __future__ import annotations

from emulators.telegram.model import StoredFile
from emulators.telegram.params import Params, UploadedFile, bad_request


class FileStore:
    """Every file the bot sent, by ``file_id``; sending a known ``file_id`` again reuses that file, as in Telegram.

    An upload arrives as the parameter itself (``photo`` = a file part) or, from aiogram, as ``attach://<part>``
    pointing at another part of the same request.
    """

    def __init__(self) -> None:
        self.files: dict[str, StoredFile] = {}

    def take(self, params: Params, field: str) -> StoredFile:
        """The file a request sends in ``field``; 400 when there is none or it cannot be resolved."""
        value = params.get(field)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        number = len(self.files) + 1
        file_id, unique_id = f"AgACAgIAAxkBAAI{number:08d}", f"AQAD{number:06d}"
        if isinstance(value, UploadedFile):
            width, height = _png_size(value.data)
            stored = StoredFile(file_id, unique_id, value.data, value.filename, value.content_type, None, width, height)
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            stored = StoredFile(file_id, unique_id, None, url=value)
        elif value is None:
            raise bad_request(f"there is no {field} in the request")
        else:
            raise bad_request("wrong file identifier/HTTP URL specified")
        self.files[file_id] = stored
        return stored


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG header (what Telegram reports for a photo); 1×1 for other formats."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return 1, 1
