"""The 16 real Composer exports and the project's own strategies: parse, validate, evaluate."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tests.support.strategy_v2.dsl_helpers import InMemoryMarketData
from the_alchemiser.local.synthetic_market import generate_market
from the_alchemiser.strategy_v2.dsl import Market, Strategy, evaluate_on, evaluate_strategy, load_strategy

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO.parent / "shared" / "corpus" / "symphonies"
STRATEGIES = REPO / "strategies"
AS_OF = date(2026, 11, 20)

corpus_files = sorted(CORPUS.glob("*.clj")) if CORPUS.is_dir() else []
needs_corpus = pytest.mark.skipif(not corpus_files, reason=f"corpus not found at {CORPUS} (../shared relative to repo)")


@pytest.fixture(scope="module")
def corpus() -> list[Strategy]:
    return [load_strategy(path) for path in corpus_files]


@needs_corpus
def test_all_sixteen_corpus_files_parse_and_validate(corpus: list[Strategy]) -> None:
    assert len(corpus) == 16
    for strategy in corpus:
        assert strategy.name
        assert strategy.traded_symbols
        assert 1 <= strategy.max_lookback <= 1000
        assert strategy.distinct_nodes <= strategy.node_count


@pytest.fixture(scope="module")
def corpus_market(corpus: list[Strategy]) -> dict[str, pd.DataFrame]:
    symbols = sorted(set().union(*(s.universe for s in corpus)))
    days = max(s.max_lookback for s in corpus) + 250
    return generate_market(symbols, end=AS_OF, days=days)


@needs_corpus
def test_all_sixteen_corpus_files_evaluate_on_a_synthetic_market(
    corpus: list[Strategy], corpus_market: dict[str, pd.DataFrame]
) -> None:
    market = InMemoryMarketData(corpus_market)
    for strategy in corpus:
        result = evaluate_strategy(strategy, market, AS_OF)
        assert result.name == strategy.name
        assert result.as_of == AS_OF  # a Friday and a trading day
        assert sum(result.weights.values()) == pytest.approx(1.0, abs=1e-9), strategy.file
        assert all(w > 0 for w in result.weights.values())
        assert set(result.weights) <= strategy.traded_symbols
        assert result.trace_summary[0].startswith("weights: ")
        assert result.trace


@needs_corpus
def test_corpus_live_path_equals_whole_axis_path(
    corpus: list[Strategy], corpus_market: dict[str, pd.DataFrame]
) -> None:
    for strategy in corpus:
        market = Market(corpus_market, strategy.universe, end=AS_OF)
        live = evaluate_on(strategy, market).weights
        axis = evaluate_on(strategy, market, whole_axis=True).weights
        assert set(live) == set(axis), strategy.file
        assert all(abs(live[s] - axis[s]) < 1e-9 for s in live), strategy.file


@needs_corpus
def test_validate_lists_each_corpus_files_universe_and_longest_lookback(corpus: list[Strategy]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "the_alchemiser", "validate", str(CORPUS)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    blocks = result.stdout.split("\n" + str(CORPUS))
    assert len(blocks) == 16
    for block, strategy in zip(blocks, corpus, strict=True):
        assert f"{Path(str(strategy.file)).name}: OK" in block
        assert f"universe ({len(strategy.universe)}): {' '.join(sorted(strategy.universe))}\n" in block
        assert f"longest lookback: {strategy.max_lookback} daily closes" in block


def test_project_strategies_and_allocations() -> None:
    config = tomllib.loads((STRATEGIES / "allocations.toml").read_text())
    assert set(config) == {"dev", "prod", "ephemeral", "local"}
    files = sorted(STRATEGIES.glob("*.clj"))
    assert {p.name for p in files} == {"nuclear.clj", "tecl.clj", "klm.clj"}
    for stage, allocations in config.items():
        assert sum(allocations.values()) == pytest.approx(1.0, abs=1e-12), stage
        assert set(allocations) <= {p.name for p in files}
    strategies = [load_strategy(path) for path in files]
    for strategy in strategies:
        assert 10 <= len(strategy.universe) <= 25, strategy.file
        assert strategy.max_lookback <= 201
    symbols = sorted(set().union(*(s.universe for s in strategies)))
    market = InMemoryMarketData(generate_market(symbols, end=AS_OF, days=450))
    for strategy in strategies:
        for as_of in (AS_OF, date(2026, 6, 1), date(2026, 3, 2)):
            result = evaluate_strategy(strategy, market, as_of)
            assert sum(result.weights.values()) == pytest.approx(1.0, abs=1e-9)
            assert result.trace
