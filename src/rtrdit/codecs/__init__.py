"""Codecs: video I/O, VAEs (Wan and our fast streaming autoencoder) and text encoders.

Nothing heavy is imported here; ``load_codec`` and the protocols live in :mod:`rtrdit.codecs.base`.
"""

from rtrdit.codecs.base import CodecError, LatentCodec, StreamDecoder, StreamEncoder, load_codec

__all__ = ["CodecError", "LatentCodec", "StreamDecoder", "StreamEncoder", "load_codec"]
