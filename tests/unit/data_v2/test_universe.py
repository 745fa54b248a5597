"""The data refresh's symbol list: a reader of ticker literals that must agree with the DSL's universe."""

from __future__ import annotations

from pathlib import Path

import pytest

from the_alchemiser.data_v2.universe import UniverseError, strategy_universe, tickers_in
from the_alchemiser.strategy_v2.dsl import load_strategy

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO.parent / "shared" / "corpus" / "symphonies"
PROJECT_FILES = sorted((REPO / "strategies").glob("*.clj"))
CORPUS_FILES = sorted(CORPUS.glob("*.clj")) if CORPUS.is_dir() else []


@pytest.mark.parametrize("path", PROJECT_FILES, ids=lambda p: p.name)
def test_the_project_strategies_universe_matches_the_dsl(path: Path) -> None:
    assert tickers_in(path.read_text()) == set(load_strategy(path).universe)


@pytest.mark.skipif(not CORPUS_FILES, reason=f"corpus not found at {CORPUS} (../shared relative to repo)")
def test_the_composer_corpus_universe_matches_the_dsl() -> None:
    mismatched = {}
    for path in CORPUS_FILES:
        difference = tickers_in(path.read_text()) ^ set(load_strategy(path).universe)
        if difference:
            mismatched[path.name] = difference
    assert len(CORPUS_FILES) == 16 and mismatched == {}


def test_names_comments_and_odd_strings_are_not_tickers() -> None:
    text = r"""
    ;; (asset "COMMENTED" "a ticker in a comment is not mentioned")
    (defsymphony "SPY" {:asset-class "EQUITIES"}   ; a name that looks like a ticker
     (group "QQQ; not a comment" [
       (weight-equal [(asset "BRK/B" "Berkshire \"B\" shares ; really")
                      (asset "BF.B" nil),
                      (if (> (rsi  "TLT" {:window 10}) (moving-average-price,"IEF" {:window 5}))
                          [(asset "GLD" "gold")] [(asset "SHV" "cash")])
                      (filter (cumulative-return {:window 5}) (select-top 1) [(asset "XLE" nil)])])]))
    """
    assert tickers_in(text) == {"BRK/B", "BF.B", "TLT", "IEF", "GLD", "SHV", "XLE"}


def test_the_universe_is_the_sorted_union_over_the_folder_plus_extras(tmp_path: Path) -> None:
    (tmp_path / "a.clj").write_text('(defsymphony "A" {} (asset "SPY" nil))')
    (tmp_path / "b.clj").write_text('(defsymphony "B" {} (weight-equal [(asset "TLT" nil) (asset "SPY" nil)]))')
    (tmp_path / "notes.txt").write_text('(asset "IGNORED" nil)')
    universe = strategy_universe(tmp_path, extra=[" BIL ", ""])
    assert universe.symbols == ["BIL", "SPY", "TLT"]
    assert universe.files == ["a.clj", "b.clj"] and universe.files_without_tickers == []


def test_no_files_is_an_error_and_a_file_without_tickers_is_reported(tmp_path: Path) -> None:
    with pytest.raises(UniverseError, match="no strategy files"):
        strategy_universe(tmp_path)
    (tmp_path / "empty.clj").write_text('(defsymphony "Nothing" {} (group "G" []))')
    (tmp_path / "spy.clj").write_text('(defsymphony "S" {} (asset "SPY" nil))')
    universe = strategy_universe(tmp_path)
    assert universe.symbols == ["SPY"] and universe.files_without_tickers == ["empty.clj"]
