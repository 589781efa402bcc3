"""``kiseki.Image``: a picture logged with ``log()``, stored once as PNG by content digest."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from kiseki.errors import UsageError, ValueTypeError
from kiseki.media.base import BlobReader, BlobWriter, Media

IMAGE_JSON_TYPE = "image-file"
MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I;16"})
"""Pillow modes ``mode=`` accepts: those PNG stores exactly."""
_CHANNELS_TO_MODE = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


class Image(Media):
    """An image to log: a NumPy array (or PyTorch tensor), a PIL image or an image file path.

    Arrays are ``(H, W)`` grey, ``(H, W, C)`` with 1-4 channels, or channel-first
    ``(C, H, W)`` as PyTorch lays them out. Integer arrays must hold 0-255; float arrays
    0.0-1.0 (scaled to 0-255). ``mode=`` converts to a Pillow mode (``"L"``, ``"RGB"``,
    ``"RGBA"``, ...). The image is stored as PNG, so pixels read back exactly.

    >>> import numpy as np
    >>> image = Image(np.zeros((4, 6, 3), dtype=np.uint8), caption="black")
    >>> image.width, image.height, image.caption
    (6, 4, 'black')

    Images read back through :class:`kiseki.Api` load their pixels on first access of
    :attr:`image`.
    """

    json_type = IMAGE_JSON_TYPE

    def __init__(
        self,
        data_or_path: Any,
        caption: str | None = None,
        mode: str | None = None,
    ) -> None:
        if caption is not None and not isinstance(caption, str):
            raise ValueTypeError(
                f"kiseki.Image caption must be a string, got {type(caption).__name__}."
            )
        if mode is not None and mode not in MODES:
            raise UsageError(
                f"kiseki.Image mode {mode!r} is not supported: use one of "
                f"{', '.join(sorted(MODES))}."
            )
        self.caption = caption
        self.digest: str | None = None
        self._reader: BlobReader | None = None
        self._png: bytes | None = None
        self._pil = _to_pil(data_or_path, mode)
        self.width, self.height = self._pil.size
        self.mode = self._pil.mode

    @classmethod
    def from_json(cls, ref: dict[str, Any], reader: BlobReader | None) -> Image:
        """An image read back from its history reference; pixels load on first access."""
        image = cls.__new__(cls)
        image._reference = dict(ref)
        image.caption = ref.get("caption")
        image.digest = ref.get("digest")
        image.width = int(ref.get("width") or 0)
        image.height = int(ref.get("height") or 0)
        image.mode = ref.get("mode")
        image._reader = reader
        image._png = None
        image._pil = None
        return image

    @property
    def image(self) -> Any:
        """The ``PIL.Image.Image`` (read from the blob store on first access)."""
        if self._pil is None:
            from PIL import Image as PILImage

            if self._reader is None or self.digest is None:
                raise UsageError(
                    "This kiseki.Image has no pixels to load: it was read without access to "
                    "the blob store that holds them."
                )
            data = self._reader.read_bytes(self.digest)
            self._png = data
            pil = PILImage.open(io.BytesIO(data))
            pil.load()
            self._pil = pil
        return self._pil

    def png_bytes(self) -> bytes:
        """The image encoded as PNG (what the blob store keeps)."""
        if self._png is None:
            buffer = io.BytesIO()
            self.image.save(buffer, format="PNG")
            self._png = buffer.getvalue()
        return self._png

    def to_json(self, blobs: BlobWriter | None, digests: list[str]) -> dict[str, Any]:
        """``{"_type": "image-file", "digest", "width", "height", "format", "mode", "caption",
        "size"}``; the PNG goes to ``blobs``."""
        data = self.png_bytes()
        if self.digest is None:
            if blobs is not None:
                self.digest = blobs.put_bytes(data)
            else:
                import hashlib

                self.digest = hashlib.sha256(data).hexdigest()
        elif blobs is not None:
            blobs.put_bytes(data)
        digests.append(self.digest)
        return {
            "_type": IMAGE_JSON_TYPE,
            "digest": self.digest,
            "width": self.width,
            "height": self.height,
            "format": "png",
            "mode": self.mode,
            "caption": self.caption,
            "size": len(data),
        }

    def __repr__(self) -> str:
        caption = f" caption={self.caption!r}" if self.caption else ""
        return f"<kiseki.Image {self.width}x{self.height} {self.mode}{caption}>"


def _to_pil(data: Any, mode: str | None) -> Any:
    from PIL import Image as PILImage

    if isinstance(data, Image):
        pil = data.image.copy()
    elif isinstance(data, PILImage.Image):
        pil = data.copy()
    elif isinstance(data, str | os.PathLike):
        pil = _open_path(Path(data))
    elif hasattr(data, "__array__") or type(data).__module__.partition(".")[0] == "torch":
        pil = _from_array(data)
    else:
        raise ValueTypeError(
            f"kiseki.Image takes a NumPy array, a PyTorch tensor, a PIL image or a file path, "
            f"got {type(data).__name__}."
        )
    if mode is not None and pil.mode != mode:
        pil = pil.convert(mode)
    if pil.mode not in MODES:  # e.g. CMYK or YCbCr from a JPEG file
        pil = pil.convert("RGBA" if "A" in pil.getbands() else "RGB")
    return pil


def _open_path(path: Path) -> Any:
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    if not path.is_file():
        raise UsageError(f"kiseki.Image: no image file at {path}: check the path.")
    try:
        with PILImage.open(path) as opened:
            opened.load()
            return opened.copy()
    except UnidentifiedImageError:
        raise UsageError(
            f"kiseki.Image: {path} is not an image file Pillow can read (PNG, JPEG, GIF, ...)."
        ) from None


def _from_array(data: Any) -> Any:
    import numpy as np
    from PIL import Image as PILImage

    if type(data).__module__.partition(".")[0] == "torch":
        data = data.detach().cpu().numpy()
    array = np.asarray(data)
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = np.transpose(array, (1, 2, 0))  # channels first, as PyTorch lays images out
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (2, 3, 4)):
        raise UsageError(
            f"kiseki.Image got an array of shape {tuple(np.shape(data))}: pass (H, W) for grey, "
            "(H, W, C) or (C, H, W) with C = 1 (grey), 3 (RGB) or 4 (RGBA) channels."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise UsageError(f"kiseki.Image got an empty array of shape {array.shape}.")
    if not np.issubdtype(array.dtype, np.number):
        raise ValueTypeError(
            f"kiseki.Image needs a numeric array, got dtype {array.dtype}: convert it to uint8 "
            "(0-255) or float (0.0-1.0)."
        )
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise UsageError("kiseki.Image got NaN or infinite pixel values: replace them first.")
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            raise UsageError(
                f"kiseki.Image got float pixels from {low:g} to {high:g}: float images must be "
                "in 0.0-1.0 (or pass uint8 values 0-255)."
            )
        array = np.rint(array * 255.0).astype(np.uint8)
    elif array.dtype != np.uint8:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise UsageError(
                f"kiseki.Image got integer pixels from {low} to {high}: integer images must be "
                "in 0-255; scale them, or pass floats in 0.0-1.0."
            )
        array = array.astype(np.uint8)
    channels = 1 if array.ndim == 2 else array.shape[-1]
    return PILImage.fromarray(np.ascontiguousarray(array), mode=None).convert(
        _CHANNELS_TO_MODE[channels]
    )
