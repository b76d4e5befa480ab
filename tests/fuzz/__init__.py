"""Hostile-input fuzzing: malformed metadata, corrupted chunks, decompression bombs,
hostile node names on every store kind, writers killed with SIGKILL, and several
processes writing one array.

Every generator is seeded and bounded. The tests run the quick profile; the long one is
``benchmarks/fuzz_soak.py``, which imports the same generators. Cases that could hang or
exhaust memory run in a child process (:mod:`.runner`) under an address-space limit and
a timeout. A case passes when it succeeds or raises a :class:`cuzarr.ZarrError`
(plus the category's own checks: nothing escapes the store, no wrong value passes a
checksum, bombs stay small, no written value is lost or resurrected).
"""
