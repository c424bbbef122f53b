"""Shared-prefix packing: one row holds a question's common prefix once and each choice's remainder.

For choices with token sequences S_0..S_{n-1} (context + continuation), the trunk is their longest
common prefix; the row is trunk + S_0[T:] + S_1[T:] + ... Each branch restarts its position ids at T
and attends to the trunk and to itself only, so every choice sees exactly the tokens it would see
alone, while the trunk (the few-shot examples and the question) runs once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from likra.ops.masks import PAD, TRUNK


@dataclass
class PackedQuestion:
    index: int
    """Position of the question in the caller's list."""
    input_ids: list[int]
    """Trunk then every branch."""
    position_ids: list[int]
    """Position of each token in its own (unpacked) sequence."""
    branch: list[int]
    """TRUNK for shared tokens, else the choice index the token belongs to."""
    targets: list[list[tuple[int, int]]]
    """Per choice: (row index whose logits predict the token, token id) for each continuation token."""

    @property
    def trunk_len(self) -> int:
        """Length of the shared prefix (trunk tokens come first)."""
        return self.branch.index(0) if 0 in self.branch else len(self.branch)


def _common_prefix_len(seqs: list[list[int]]) -> int:
    n = min(len(s) for s in seqs)
    for i in range(n):
        tok = seqs[0][i]
        if any(s[i] != tok for s in seqs[1:]):
            return i
    return n


def pack_question(index: int, encoded: list[tuple[list[int], list[int]]]) -> PackedQuestion:
    """Pack one question given (context ids, continuation ids) per choice."""
    seqs = [ctx + cont for ctx, cont in encoded]
    # keep at least the first context token out of every branch's scored range and the last token of
    # each sequence out of the trunk, so each branch has its own row of at least one token
    trunk_len = min(_common_prefix_len(seqs), min(len(s) for s in seqs) - 1)
    ids, pos, branch = list(seqs[0][:trunk_len]), list(range(trunk_len)), [TRUNK] * trunk_len
    targets: list[list[tuple[int, int]]] = []
    for c, ((ctx, _cont), seq) in enumerate(zip(encoded, seqs)):
        start = len(ids)  # row index of seq[trunk_len]

        def row_of(j: int) -> int:
            return j if j < trunk_len else start + (j - trunk_len)

        ids.extend(seq[trunk_len:])
        pos.extend(range(trunk_len, len(seq)))
        branch.extend([c] * (len(seq) - trunk_len))
        targets.append([(row_of(j - 1), seq[j]) for j in range(len(ctx), len(seq))])
    return PackedQuestion(index, ids, pos, branch, targets)


def collate(packed: list[PackedQuestion], copies: int, pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad rows (each question repeated `copies` times, one per head) into batch tensors."""
    length = max(len(p.input_ids) for p in packed)
    ids, pos, branch = [], [], []
    for p in packed:
        pad = length - len(p.input_ids)
        for _ in range(copies):
            ids.append(p.input_ids + [pad_id] * pad)
            pos.append(p.position_ids + [0] * pad)
            branch.append(p.branch + [PAD] * pad)
    return {"input_ids": torch.tensor(ids), "position_ids": torch.tensor(pos), "segment": torch.tensor(branch)}
