"""A tiny RGB canvas written as PNG with zlib alone: lines, dots and a 3x5 pixel font.

Enough for the benchmark's plot without a plotting dependency.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

__all__ = ["Canvas"]

Colour = tuple[int, int, int]

# Each glyph: five rows of three pixels, bit 2 the left one.
_FONT = {
    "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7), "2": (7, 1, 7, 4, 7), "3": (7, 1, 7, 1, 7),
    "4": (5, 5, 7, 1, 1), "5": (7, 4, 7, 1, 7), "6": (7, 4, 7, 5, 7), "7": (7, 1, 1, 1, 1),
    "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 7), "A": (2, 5, 7, 5, 5), "B": (6, 5, 6, 5, 6),
    "C": (3, 4, 4, 4, 3), "D": (6, 5, 5, 5, 6), "E": (7, 4, 6, 4, 7), "F": (7, 4, 6, 4, 4),
    "G": (3, 4, 5, 5, 3), "H": (5, 5, 7, 5, 5), "I": (7, 2, 2, 2, 7), "J": (1, 1, 1, 5, 2),
    "K": (5, 5, 6, 5, 5), "L": (4, 4, 4, 4, 7), "M": (5, 7, 7, 5, 5), "N": (6, 5, 5, 5, 5),
    "O": (2, 5, 5, 5, 2), "P": (6, 5, 6, 4, 4), "Q": (2, 5, 5, 6, 3), "R": (6, 5, 6, 5, 5),
    "S": (3, 4, 2, 1, 6), "T": (7, 2, 2, 2, 2), "U": (5, 5, 5, 5, 7), "V": (5, 5, 5, 5, 2),
    "W": (5, 5, 7, 7, 5), "X": (5, 5, 2, 5, 5), "Y": (5, 5, 2, 2, 2), "Z": (7, 1, 2, 4, 7),
    ".": (0, 0, 0, 0, 2), ",": (0, 0, 0, 2, 4), "/": (1, 1, 2, 4, 4), "-": (0, 0, 7, 0, 0),
    ":": (0, 2, 0, 2, 0), "%": (5, 1, 2, 4, 5), "(": (1, 2, 2, 2, 1), ")": (4, 2, 2, 2, 4),
    "=": (0, 7, 0, 7, 0), ">": (4, 2, 1, 2, 4), "<": (1, 2, 4, 2, 1), "_": (0, 0, 0, 0, 7),
    "+": (0, 2, 7, 2, 0), "x": (0, 5, 2, 5, 0), " ": (0, 0, 0, 0, 0),
}


class Canvas:
    def __init__(self, width: int, height: int, background: Colour = (255, 255, 255)):
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))

    def dot(self, x: int, y: int, colour: Colour) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = (y * self.width + x) * 3
            self.pixels[i:i + 3] = bytes(colour)

    def rect(self, x0: int, y0: int, x1: int, y1: int, colour: Colour) -> None:
        for y in range(min(y0, y1), max(y0, y1) + 1):
            for x in range(min(x0, x1), max(x0, x1) + 1):
                self.dot(x, y, colour)

    def line(self, x0: int, y0: int, x1: int, y1: int, colour: Colour, width: int = 1,
             dash: int = 0) -> None:
        """Bresenham; `dash` > 0 draws dashes of that many pixels."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err, step, half = dx + dy, 0, width // 2
        while True:
            if not dash or (step // dash) % 2 == 0:
                self.rect(x0 - half, y0 - half, x0 - half + width - 1, y0 - half + width - 1, colour)
            if x0 == x1 and y0 == y1:
                return
            e2, step = 2 * err, step + 1
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def marker(self, x: int, y: int, colour: Colour, size: int = 3, hollow: bool = False) -> None:
        self.rect(x - size, y - size, x + size, y + size, colour)
        if hollow:
            self.rect(x - size + 1, y - size + 1, x + size - 1, y + size - 1, (255, 255, 255))

    def text(self, x: int, y: int, text: str, colour: Colour = (0, 0, 0), scale: int = 2) -> int:
        """Draw text with its top-left at (x, y); return its width in pixels."""
        start = x
        for char in text:
            glyph = _FONT.get(char, _FONT.get(char.upper(), _FONT[" "]))
            for row, bits in enumerate(glyph):
                for col in range(3):
                    if bits & (4 >> col):
                        self.rect(x + col * scale, y + row * scale,
                                  x + col * scale + scale - 1, y + row * scale + scale - 1, colour)
            x += 4 * scale
        return x - start

    @staticmethod
    def text_width(text: str, scale: int = 2) -> int:
        return len(text) * 4 * scale

    def save(self, path: str | Path) -> None:
        stride = self.width * 3
        raw = b"".join(b"\x00" + bytes(self.pixels[y * stride:(y + 1) * stride]) for y in range(self.height))

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)  # 8-bit RGB
        Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                               + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
