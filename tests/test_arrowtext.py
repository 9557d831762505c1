"""Arrow hash kernels for text columns agree with pandas' own (slow) isin / get_indexer."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from cemkit.arrowtext import arrow, factorize, index_in, isin

keys = st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "客户1", "", "C-0", "b "])), max_size=30)


@given(keys, keys)
def test_isin_and_index_in_match_pandas(a, b):
    s, v = pd.Series(a, dtype="str"), pd.Series(b, dtype="str")
    want = s.isin(set(v.dropna())) & s.notna()
    assert np.array_equal(isin(s, v), want.to_numpy())
    uniq = pd.Series(v.dropna().unique(), dtype="str")
    pos = pd.Index(uniq).get_indexer(s)
    pos[s.isna().to_numpy()] = -1
    assert np.array_equal(index_in(s, uniq), pos)


def test_non_text_keys_are_compared_as_text():
    assert isin(pd.Series([1, 2, 3]), pd.Series(["2", "3"])).tolist() == [False, True, True]
    assert index_in(pd.Series(["3", "9"]), pd.Series([1, 3])).tolist() == [1, -1]


def test_arrow_uses_the_buffer_or_builds_it():
    s = pd.Series(["x", None], dtype="str")
    assert arrow(s).to_pylist() == ["x", None]
    obj = pd.Series(["x", None], dtype=object)
    assert arrow(obj, build=False) is None and arrow(obj).to_pylist() == ["x", None]


@given(keys, keys)
def test_factorize_shares_one_numbering(a, b):
    s, v = pd.Series(a, dtype="str"), pd.Series(b, dtype="str")
    (ca, cb), n = factorize(s, v)
    both = pd.concat([s, v], ignore_index=True)
    assert n == both.nunique()
    assert np.array_equal(np.concatenate([ca, cb]) < 0, both.isna().to_numpy())
    # equal codes exactly where the values are equal
    codes = np.concatenate([ca, cb])
    vals = both.to_numpy(dtype=object)
    for i in range(len(vals)):
        for j in range(len(vals)):
            if codes[i] >= 0 and codes[j] >= 0:
                assert (codes[i] == codes[j]) == (vals[i] == vals[j])
