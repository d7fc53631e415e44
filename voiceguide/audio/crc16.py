"""CRC-16/ARC, as the LAME tag of an MP3's Info frame holds it: of a whole stream of frames,
fed a batch at a time, from one CRC per distinct frame (mp3.py splices in thousands of
copies of one silent frame)."""

from __future__ import annotations

import numpy as np


# CRC-16/ARC (reflected polynomial 0x8005, no final xor), as in the LAME tag.
def _crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ 0xA001, table >> 1)
    return table


_CRC_TABLE = _crc_table()


def _crc16_columns(registers: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Run many CRC registers at once, each over its own row of `columns` (bytes as columns)."""
    for column in columns:
        registers = (registers >> 8) ^ _CRC_TABLE[(registers ^ column) & 0xFF]
    return registers


def crc16(data: bytes) -> int:
    return int(_crc16_columns(np.zeros(1, dtype=np.uint32), np.frombuffer(data, dtype=np.uint8)[:, None])[0])


def crc16_frames(frame_list: list[bytes]) -> int:
    """CRC-16 of the frames joined."""
    crc = Crc16()
    crc.update(frame_list)
    return crc.value


class Crc16:
    """CRC-16 of a stream of frames, fed a batch at a time, from one CRC per distinct frame.

    With no initial value or final xor the CRC is linear: CRC(a + b) = shift(CRC(a)) ^ CRC(b),
    where shift runs the register over len(b) zero bytes; it is tabulated by low and high byte.
    """

    def __init__(self):
        self.value = 0
        self._shifts: dict[int, tuple[list[int], list[int]]] = {}

    def update(self, frame_list: list[bytes]) -> None:
        crcs: dict[bytes, int] = {}
        for length in sorted({len(frame) for frame in frame_list}):
            distinct = list({frame: None for frame in frame_list if len(frame) == length})
            rows = np.frombuffer(b"".join(distinct), dtype=np.uint8).reshape(len(distinct), length)
            crcs.update(zip(distinct, _crc16_columns(np.zeros(len(distinct), dtype=np.uint32), rows.T).tolist()))
            if length not in self._shifts:
                registers = np.concatenate((np.arange(256), np.arange(256) << 8)).astype(np.uint32)
                shifted = _crc16_columns(registers, np.zeros((length, 1), dtype=np.uint8)).tolist()
                self._shifts[length] = (shifted[:256], shifted[256:])
        crc = self.value
        for frame in frame_list:
            low, high = self._shifts[len(frame)]
            crc = low[crc & 0xFF] ^ high[crc >> 8] ^ crcs[frame]
        self.value = crc
