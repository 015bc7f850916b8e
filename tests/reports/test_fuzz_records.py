"""Fuzz: well-framed records (valid CRC) with random types and payloads."""

from hypothesis import given, settings, strategies as st

import logwriter as lw
from fuzzing import N, SETTINGS, cleanup, exercise


def teardown_module():
    cleanup()


@settings(max_examples=N or 1000, **SETTINGS)
@given(recs=st.lists(st.tuples(st.integers(0, 20), st.binary(max_size=200)), max_size=30))
def test_well_framed_random_payloads(recs):
    w = lw.LogWriter(seg_size=2048, nseg=8)
    for typ, payload in recs:
        w.rec(1, typ, payload)
    s = exercise(w.bytes())
    assert s is not None
    assert s["integrity"]["records"] == len(recs) or w.flags & 1
