"""HDR video read as SDR: a phone's HLG or PQ (HDR10) frames tone-mapped to the BT.709 frames the
model was trained on, instead of a washed-out, darkened picture from reading the HDR signal as SDR.

The mapping follows ITU-R BT.2100 and BT.2408: the signal is turned into display light (HLG through
its OOTF for a 1000-nit display), converted from BT.2020 to BT.709 primaries and scaled so that HDR
reference white (203 nits) is SDR's white level; levels above 0.735 of it (code 224) then roll off
smoothly into the codes left, reaching white at 1000 nits, on each pixel's largest channel so hues
stay; the result is encoded for a BT.1886 display. An SDR picture carried in HDR this way (BT.2408's
mapping) comes back as it was below code 224.
"""

from __future__ import annotations

import numpy as np

# FFmpeg's AVColorTransferCharacteristic values of the two HDR transfers
PQ, HLG = 16, 18
TRANSFERS = {PQ: "PQ/HDR10", HLG: "HLG"}

REFERENCE_WHITE_NITS = 203.0  # BT.2408: HDR graphics/diffuse white, shown as SDR white
HLG_PEAK_NITS = 1000.0  # the nominal HLG display BT.2100's OOTF is defined for (system gamma 1.2)
KNEE = 0.735  # linear SDR level where highlights start to roll off (code value 224 of 255)
PEAK_NITS = 1000.0  # the highlight shown as SDR white (HLG's nominal peak; brighter PQ highlights clip)
SDR_GAMMA = 2.4  # BT.1886 display

# BT.2020 -> BT.709 primaries on linear light (BT.2087), from the chromaticities and D65 to 10
# places: each row sums to 1, so greys stay grey
_BT2020_TO_BT709 = np.array([
    [1.6604910021, -0.5876411388, -0.0728498633],
    [-0.1245504745, 1.1328998971, -0.0083494226],
    [-0.0181507634, -0.1005788980, 1.1187296614],
], dtype=np.float32)
_BT2020_LUMA = np.array([0.2627, 0.6780, 0.0593], dtype=np.float32)


def is_hdr(transfer: int | None) -> bool:
    """Whether a stream's transfer characteristic (FFmpeg's ``color_trc``) is one this module maps."""
    return transfer in TRANSFERS


def _pq_to_nits(signal: np.ndarray) -> np.ndarray:
    """SMPTE ST 2084 EOTF: PQ signal 0..1 to display light in nits (0..10000)."""
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    p = np.power(np.clip(signal, 0.0, 1.0), 1.0 / m2)
    return 10000.0 * np.power(np.maximum(p - c1, 0.0) / (c2 - c3 * p), 1.0 / m1)


def _hlg_to_scene(signal: np.ndarray) -> np.ndarray:
    """BT.2100 HLG inverse OETF: signal 0..1 to scene light 0..1."""
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    e = np.clip(signal, 0.0, 1.0)
    return np.where(e <= 0.5, e * e / 3.0, (np.exp((e - c) / a) + b) / 12.0)


def _roll_off(level: np.ndarray) -> np.ndarray:
    """Linear SDR level (1 = reference white) to 0..1: unchanged up to KNEE, then a shoulder that
    reaches white at PEAK_NITS with the same slope at the knee. It is drawn on the BT.1886-encoded
    level (Reinhard's extended curve), so highlights keep their gradation in code values."""
    knee, span = KNEE ** (1 / SDR_GAMMA), 1.0 - KNEE ** (1 / SDR_GAMMA)
    code = np.power(np.maximum(level, 0.0), 1 / SDR_GAMMA)
    x = np.maximum(code - knee, 0.0) / span
    white = ((PEAK_NITS / REFERENCE_WHITE_NITS) ** (1 / SDR_GAMMA) - knee) / span
    shoulder = np.minimum(knee + span * x * (1 + x / white**2) / (1 + x), 1.0)
    return np.where(code <= knee, level, np.power(shoulder, SDR_GAMMA))


# Kr, Kb of each Y'CbCr matrix (FFmpeg's AVColorSpace values); an HDR stream that does not say is BT.2020
_LUMA_WEIGHTS = {1: (0.2126, 0.0722), 5: (0.299, 0.114), 6: (0.299, 0.114), 9: (0.2627, 0.0593)}


def signal_from_yuv16(yuv: np.ndarray, matrix: int, full_range: bool) -> np.ndarray:
    """(H, W, 3) 4:4:4 Y'CbCr at 16 bits (FFmpeg's yuv444p16: the source's 10 or 12 bits shifted up) to
    the (H, W, 3) uint16 R'G'B' signal, by the stream's matrix and range. Done here rather than by
    swscale, whose RGB output from 10-bit input runs 0.4% low (3 levels of a PQ skin tone after the map)."""
    import cv2  # deferred: OpenCV is heavy to import

    kr, kb = _LUMA_WEIGHTS.get(matrix, _LUMA_WEIGHTS[9])
    kg = 1.0 - kr - kb
    black, luma_span, chroma_span = (0.0, 65535.0, 65535.0) if full_range else (4096.0, 56064.0, 57344.0)
    mix = np.array([  # R', G', B' from (Y' - black) / luma_span and (C - mid) / chroma_span
        [1.0, 0.0, 2 * (1 - kr)],
        [1.0, -2 * kb * (1 - kb) / kg, -2 * kr * (1 - kr) / kg],
        [1.0, 2 * (1 - kb), 0.0],
    ]) * 65535.0 / np.array([luma_span, chroma_span, chroma_span])
    offset = -mix @ np.array([black, 32768.0, 32768.0])
    return cv2.transform(yuv, np.hstack([mix, offset[:, None]]).astype(np.float32))  # rounded, saturated


def tone_map(signal: np.ndarray, transfer: int) -> np.ndarray:
    """(H, W, 3) uint16 BT.2020 R'G'B' signal of an HLG or PQ frame (`signal_from_yuv16`) to (H, W, 3)
    uint8 BT.709 SDR RGB. The transfer curve is a table over the 16-bit signal and the per-pixel
    algebra is OpenCV's, so a 1080p frame takes tens of milliseconds."""
    import cv2  # deferred: OpenCV is heavy to import

    if transfer not in TRANSFERS:
        raise ValueError(f"not an HDR transfer: {transfer!r} (known: {sorted(TRANSFERS)})")
    levels = np.arange(65536, dtype=np.float64) / 65535.0
    if transfer == PQ:
        sdr = cv2.transform((_pq_to_nits(levels) / REFERENCE_WHITE_NITS).astype(np.float32)[signal], _BT2020_TO_BT709)
    else:  # the OOTF: display light = peak * scene luma ** (gamma - 1) * scene light, gamma 1.2
        scene = _hlg_to_scene(levels).astype(np.float32)[signal]
        gain = cv2.pow(cv2.transform(scene, _BT2020_LUMA[None]), 0.2) * np.float32(HLG_PEAK_NITS / REFERENCE_WHITE_NITS)
        sdr = cv2.transform(scene, _BT2020_TO_BT709) * gain[..., None]
    np.maximum(sdr, 0.0, out=sdr)  # colours outside BT.709 are clipped
    red, green, blue = cv2.split(sdr)
    peak = cv2.max(cv2.max(red, green), blue)
    # highlights roll off on the largest channel, scaling all three: the hue stays
    gain = np.ones_like(peak)
    bright = np.flatnonzero(peak > KNEE)  # worked out for these pixels only: usually a few
    level = peak.ravel()[bright]
    gain.ravel()[bright] = _roll_off(level) / level
    sdr = cv2.multiply(sdr, cv2.merge([gain, gain, gain]))
    np.minimum(sdr, 1.0, out=sdr)
    return cv2.convertScaleAbs(cv2.pow(sdr, 1.0 / SDR_GAMMA), alpha=255.0)
