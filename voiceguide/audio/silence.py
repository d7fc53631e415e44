"""Stage 5, export: which silence the encoder is spared, cell by cell (see mp3.py for why).

A cell is one MP3 frame's worth of samples. Of every run of silent cells, `SilenceGaps` sends
the encoder only `MARGIN_CELLS` at each end and notes how many it dropped, and where, for
`mp3.splice_silence` to put back as ready-made frames. A stream can also be cut inside a long
run of silence and go on in another `SilenceGaps` (`cut`, `resumed`): the two halves are
encoded at once, on two cores, and joined where the silence was (`mp3.join_at_gap`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MARGIN_CELLS = 4
"""Silent cells kept on each side of a gap."""


@dataclass
class SilenceGaps:
    """Drops the middle of long runs of silence from a stream of 16-bit PCM, cell by cell.

    A cell is one frame's worth of samples (0: pass everything on). `gaps` lists (cells sent
    before the gap, cells dropped); the encoder turns sent cell `c` into frame `c + delay`.
    """

    cell: int
    gaps: list[tuple[int, int]] = field(default_factory=list)
    sent_cells: int = 0
    samples: int = 0
    """Samples fed in: the length the MP3 must decode to, gaps included."""
    resumed: bool = False
    """The stream goes on from one `cut` in silence: its first silence is a gap from the start
    (the leading margin was sent before the cut)."""
    dropped_at_cut: int = 0
    """Silent cells held back when the stream was `cut`, dropped."""

    def __post_init__(self) -> None:
        if self.resumed:
            self._silent_run = MARGIN_CELLS

    @property
    def sent_samples(self) -> int:
        """Samples passed on to the encoder."""
        return self.samples - (sum(count for _, count in self.gaps) + self.dropped_at_cut) * self.cell

    def full_position(self, sent: int) -> int:
        """Where sample `sent` of what was passed on lies in the whole stream."""
        position = sent
        for before, count in self.gaps:
            if before * self.cell <= sent:
                position += count * self.cell
        return position
    _silent_run: int = 0  # silent cells seen since the last sound, margin included
    _carry: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="<i2"))

    def feed(self, pcm: np.ndarray) -> bytes:
        """PCM to send to the encoder for `pcm` (int16), holding back silence that may be dropped."""
        self.samples += pcm.size
        if not self.cell:
            return pcm.tobytes()
        pcm = np.concatenate((self._carry, pcm)) if self._carry.size else pcm
        whole = pcm.size // self.cell * self.cell
        self._carry = pcm[whole:]
        cells = pcm[:whole].reshape(-1, self.cell)
        sounding = np.flatnonzero(cells.any(axis=1))
        out = []
        position = 0  # cells of this block handled so far
        for index in sounding:
            silent = int(index) - position
            if silent:
                out.append(self._silence(silent))
            if self._silent_run:
                out.append(self._end_of_silence())
            out.append(cells[index].tobytes())
            self.sent_cells += 1
            position = int(index) + 1
        if cells.shape[0] > position:
            out.append(self._silence(cells.shape[0] - position))
        return b"".join(out)

    def finish(self) -> bytes:
        """The rest of the stream: the held-back silence, then any part-cell at the end."""
        tail = self._end_of_silence() if self._silent_run else b""
        return tail + self._carry.tobytes()

    def cut(self) -> None:
        """End the stream inside a run of silence, at a whole cell, its leading margin sent:
        what it held back is dropped, and a `resumed` SilenceGaps goes on from here."""
        if self._carry.size or self._silent_run < MARGIN_CELLS:
            raise ValueError("a stream is cut only at a cell inside a run of silence")
        self.dropped_at_cut = self._silent_run - MARGIN_CELLS
        self._silent_run = 0

    def _silence(self, count: int) -> bytes:
        """Send silence up to the leading margin; hold the rest until the run ends."""
        send = max(0, min(count, MARGIN_CELLS - self._silent_run))
        self._silent_run += count
        self.sent_cells += send
        return bytes(2 * self.cell * send)

    def _end_of_silence(self) -> bytes:
        """The run of silence is over: send what was held, or the trailing margin and a gap."""
        held = self._silent_run - min(self._silent_run, MARGIN_CELLS)
        self._silent_run = 0
        if held > MARGIN_CELLS:
            self.gaps.append((self.sent_cells, held - MARGIN_CELLS))
            held = MARGIN_CELLS
        self.sent_cells += held
        return bytes(2 * self.cell * held)
