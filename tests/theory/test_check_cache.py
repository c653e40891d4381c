"""The persistent theorem-check cache: a warm check reads the stored verdicts, a changed theorem
source or loss misses, a corrupt entry is ignored and rewritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from prefdyn.theory import check_cache
from prefdyn.theory.framework import Theorem
from prefdyn.theory.losses import get_loss


def _fresh(loss: str = "ipo") -> Theorem:
    from prefdyn.theory.theorems import dpo_gradient

    return dpo_gradient.build(get_loss(loss))


def _verdicts(theorem: Theorem) -> list[tuple[bool, str, str]]:
    return [(r.verified, r.method, r.detail) for _, _, r in theorem.check().steps()]


def _forbid_check(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Theorem) -> None:
        raise AssertionError("re-verified although the cache holds the entry")

    monkeypatch.setattr(Theorem, "check", refuse)


def test_warm_check_reads_the_stored_verdicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cold = _fresh()
    check_cache.cached_check(cold, get_loss("ipo"), root=tmp_path)
    expected = _verdicts(cold)
    warm = _fresh()
    _forbid_check(monkeypatch)
    report = check_cache.cached_check(warm, get_loss("ipo"), root=tmp_path)
    assert [(r.verified, r.method, r.detail) for _, _, r in report.steps()] == expected
    assert warm._report is report


def test_a_changed_source_or_loss_misses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = check_cache.cache_key("dpo-gradient", get_loss("ipo"))
    assert key != check_cache.cache_key("dpo-gradient", get_loss("dpo"))
    assert key != check_cache.cache_key("update-rate", get_loss("ipo"))
    check_cache.cached_check(_fresh(), get_loss("ipo"), root=tmp_path)
    monkeypatch.setattr(check_cache, "_source_digest", lambda: "an edited theorem module")
    assert check_cache.cache_key("dpo-gradient", get_loss("ipo")) != key
    calls = []
    original = Theorem.check
    monkeypatch.setattr(Theorem, "check", lambda self: calls.append(1) or original(self))
    check_cache.cached_check(_fresh(), get_loss("ipo"), root=tmp_path)
    assert calls, "a changed source must re-verify"


def test_a_corrupt_entry_is_ignored_and_rewritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    theorem = _fresh()
    check_cache.cached_check(theorem, get_loss("ipo"), root=tmp_path)
    (entry,) = (tmp_path / "theorems").iterdir()
    entry.write_bytes(entry.read_bytes()[:-7])
    again = _fresh()
    check_cache.cached_check(again, get_loss("ipo"), root=tmp_path)
    assert "ignored" in capsys.readouterr().err
    assert _verdicts(again) == _verdicts(theorem)
    assert check_cache.read_sealed(entry, {"key": entry.stem})  # rewritten intact
