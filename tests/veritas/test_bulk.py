"""veritas/bulk.py's pieces that no app's endpoint shows on its own."""

import gc

import pytest

from veritas import bulk


def test_paused_gc_restores_the_collector_even_when_the_block_raises():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), bulk.paused_gc():
        assert not gc.isenabled()
        raise RuntimeError
    assert gc.isenabled()


def test_paused_gc_leaves_a_disabled_collector_disabled():
    gc.disable()
    try:
        with bulk.paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
