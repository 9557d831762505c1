"""Shared fixtures: the auto pack, small demo data, and a copy-a-pack helper for broken-pack tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

# one BLAS / OpenMP thread per test process (set before numpy loads): `make test` runs a worker per core
# (pytest-xdist), and a second BLAS thread in each only contends for the same cores, as the run's kernels
# already do (cemkit.kernels)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# pseudonyms are keyed (cemkit.privacy.pseudonym_key): tests use a fixed key instead of making one in ~/.config
os.environ.setdefault("CEMKIT_PSEUDONYM_KEY", "cemkit-tests")

from cemkit.packs import load_pack
from cemkit.paths import packs_dir

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"

# No per-example deadline: the machine is shared, and a property test that took 435 ms once under load
# (200 ms is hypothesis's default) is not a failing property.
settings.register_profile("shared_machine", deadline=None)
settings.load_profile("shared_machine")


@pytest.fixture(scope="session")
def auto_pack():
    return load_pack("auto")


@pytest.fixture(scope="session")
def demo_auto(auto_pack):
    from cemkit.demo import generate

    return generate(auto_pack)


@pytest.fixture
def pack_copy(tmp_path):
    """Copy a pack into tmp_path and return its folder, to break it on purpose."""

    def make(name: str = "auto") -> Path:
        dest = tmp_path / name
        shutil.copytree(packs_dir() / name, dest)
        return dest

    return make

