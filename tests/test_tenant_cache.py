"""The tenant cache that authorization reads: bounded, least recently used out first."""

from __future__ import annotations

import pytest

from expstream.service import TenantCache


def test_the_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    cache = TenantCache(size=2)
    cache.put("a", "acme")
    cache.put("b", None)
    assert cache.get("a") == "acme"  # a is now the most recently used
    cache.put("c", "initech")
    assert len(cache) == 2
    assert "b" not in cache and "a" in cache and "c" in cache


def test_an_experiment_found_gone_is_forgotten() -> None:
    cache = TenantCache()
    cache.put("a", "acme")
    cache.forget("a")
    cache.forget("never-seen")  # harmless
    assert "a" not in cache
    with pytest.raises(KeyError):
        cache.get("a")
