"""Checks of one content block, wherever it sits: a message, the system prompt, or nested inside
a tool_result. A block the API would refuse is refused here as INVALID_ARGUMENT, before anything
is forwarded, instead of coming back from Claude as an error the caller could mistake for an
outage."""

from __future__ import annotations

from tollgate.common.errors import invalid_argument
from tollgate.v1 import common_pb2

# The image types the Messages API takes, and how each file starts.
IMAGE_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
# The API's limit per image (it counts the base64 form, which is 4/3 of the bytes).
MAX_IMAGE_BASE64_BYTES = 5 * 1024 * 1024
MAX_IMAGE_BYTES = MAX_IMAGE_BASE64_BYTES * 3 // 4


def check_image(image: common_pb2.ImageBlock, where: str) -> None:
    media_type = image.media_type.lower()
    signatures = IMAGE_SIGNATURES.get(media_type)
    if signatures is None:
        raise invalid_argument(
            f"Unsupported image media_type {image.media_type!r}; use one of "
            f"{', '.join(IMAGE_SIGNATURES)}.",
            f"{where}.image.media_type",
        )
    size = len(image.data)
    if size == 0:
        raise invalid_argument("The image has no data.", f"{where}.image.data")
    if size > MAX_IMAGE_BYTES:
        raise invalid_argument(
            f"The image is {size:,} bytes; the limit is {MAX_IMAGE_BYTES:,} bytes "
            f"({MAX_IMAGE_BASE64_BYTES:,} once base64-encoded).",
            f"{where}.image.data",
        )
    # `data` carries the raw file (the orchestrator encodes it): base64 text or another format
    # under an image label would only fail at Claude.
    if not image.data.startswith(signatures) or (
        media_type == "image/webp" and image.data[8:12] != b"WEBP"
    ):
        raise invalid_argument(
            f"The image data is not a {media_type} file (send the raw bytes, not base64).",
            f"{where}.image.data",
        )


def check_tool_result_content(result: common_pb2.ToolResultBlock, where: str) -> None:
    """A tool_result holds text and image blocks only, each well formed."""
    for index, inner in enumerate(result.content):
        path = f"{where}.tool_result.content[{index}]"
        kind = inner.WhichOneof("block")
        if kind == "text":
            if not inner.text.text:
                raise invalid_argument("A tool_result has an empty text block.", path)
        elif kind == "image":
            check_image(inner.image, path)
        else:
            raise invalid_argument(
                "A tool_result may contain only text and image blocks"
                + (f"; got {kind}." if kind else "; got an empty block."),
                path,
            )
