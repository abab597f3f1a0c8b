"""dispatch.v1 wire protocol: pure Structs and codecs, no I/O."""

from protocol.codec import Codec, FrameError, WireFormat, codec_for, negotiate
from protocol.codes import CloseCode, ErrorCode

__all__ = ["CloseCode", "Codec", "ErrorCode", "FrameError", "WireFormat", "codec_for", "negotiate"]
