"""Fuzz: byte-level mutations and truncations of a real-shaped log."""

from hypothesis import given, settings, strategies as st

from fuzzing import N, SETTINGS, base_log, cleanup, exercise


def teardown_module():
    cleanup()


@settings(max_examples=N or 1000, **SETTINGS)
@given(flips=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=12),
       cut=st.one_of(st.none(), st.integers(0, 1 << 16)))
def test_mutated_logs(flips, cut):
    data = bytearray(base_log())
    for pos, val in flips:
        # Header fields are the first 4096 bytes: hit them, and the records.
        data[pos % len(data)] = val
    if cut is not None:
        data = data[:4096 + cut]
    exercise(bytes(data))
