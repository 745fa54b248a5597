"""template.yaml sets every environment variable each function's code reads, to the right resource."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.infra.settings_reads import module_environment
from tests.infra.wiring import FUNCTIONS, TEMPLATE_PATH, function_environment, referenced_id
from the_alchemiser.local.template import load_template

# Read by the code but deliberately not set in AWS, each with its reason.
NOT_SET_IN_AWS = {
    "ALPACA_API_KEY": "local runs only; in AWS the keys come from the ALPACA_CREDENTIALS_SECRET secret",
    "ALPACA_SECRET_KEY": "local runs only; in AWS the keys come from the ALPACA_CREDENTIALS_SECRET secret",
    "ALPACA_BASE_URL": "defaults to Alpaca's paper or live URL from PAPER_TRADING",
    "ALPACA_DATA_URL": "defaults to Alpaca's data URL",
    "STRATEGIES_DIR": "defaults to strategies/ next to the_alchemiser/, which every deploy unit packages",
    "MARKET_DATA_DIR": "local CSV market data; AWS reads MARKET_DATA_BUCKET",
    "ALCHEMISER_LOCAL_CLOCK": "the local stack's simulated clock",
    "ALCHEMISER_SIM_CONTROL_URL": "the local paper broker's clock control",
}
# Set for every function although not every one reads them (log configuration, stage in log lines).
SET_EVERYWHERE = {"STAGE", "LOG_LEVEL", "POWERTOOLS_METRICS_NAMESPACE"}  # the last: every handler's rejections
# Read by third-party libraries at import (template Globals; benchmarks/cold_start.py sets them too).
READ_BY_LIBRARIES = {
    "PYDANTIC_DISABLE_PLUGINS": "pydantic skips scanning every installed distribution for plugins",
    "OPENBLAS_NUM_THREADS": "numpy's OpenBLAS starts no thread pool for these small arrays",
}
# A variable naming a resource must name this one.
RESOURCE_OF = {
    "EVENT_BUS_NAME": "AlchemiserEventBus",
    "SNS_NOTIFICATION_TOPIC_ARN": "TradingNotificationsTopic",
    "TRADE_LEDGER__TABLE_NAME": "TradeLedgerTable",
    "AGGREGATION_SESSIONS_TABLE_NAME": "AggregationSessionsTable",
    "IDEMPOTENCY_TABLE_NAME": "IdempotencyTable",
    "PERFORMANCE_REPORTS_BUCKET": "PerformanceReportsBucket",
    "MARKET_DATA_BUCKET": "MarketDataBucket",
    "EVENT_PAYLOADS_BUCKET": "EventPayloadsBucket",
    "STRATEGY_WORKER_FUNCTION_NAME": "StrategyFunction",
    "SESSION_DEADLINE_QUEUE_URL": "SessionDeadlineQueue",
}
PARAMETER_OF = {
    "STAGE": "Stage",
    "LOG_LEVEL": "LogLevel",
    "PAPER_TRADING": "PaperTrading",
    "SESSION_DEADLINE_SECONDS": "SessionDeadlineSeconds",
    "SESSION_DEADLINE_POLICY": "SessionDeadlinePolicy",
    "MIN_TRADE_VALUE": "MinTradeValue",
    "STRATEGY_LIVE_BAR": "StrategyLiveBar",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


def environment_errors(template: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    for function, (_, module) in FUNCTIONS.items():
        if function not in template["Resources"]:
            errors.append(f"{function} is not in the template")
            continue
        environment = function_environment(template, function)
        reads = module_environment(module)
        for variable in sorted(reads - NOT_SET_IN_AWS.keys() - environment.keys()):
            errors.append(f"{function}: the_alchemiser/{module} reads {variable}, the template does not set it")
        for variable in sorted(environment.keys() - reads - SET_EVERYWHERE - READ_BY_LIBRARIES.keys()):
            errors.append(f"{function}: the template sets {variable}, which the_alchemiser/{module} never reads")
        for variable in sorted(environment.keys() & NOT_SET_IN_AWS.keys()):
            errors.append(f"{function}: {variable} is set in AWS ({NOT_SET_IN_AWS[variable]})")
        for variable, value in environment.items():
            wanted = RESOURCE_OF.get(variable) or PARAMETER_OF.get(variable)
            if wanted is not None and referenced_id(value) != wanted:
                errors.append(f"{function}: {variable} is {value!r}, not a reference to {wanted}")
    return errors


def test_every_function_gets_the_variables_its_code_reads(template: dict[str, Any]) -> None:
    assert environment_errors(template) == []


def test_every_function_gets_the_cold_start_variables_from_globals(template: dict[str, Any]) -> None:
    for function in FUNCTIONS:
        environment = function_environment(template, function)
        assert {k: environment.get(k) for k in READ_BY_LIBRARIES} == {
            "PYDANTIC_DISABLE_PLUGINS": "__all__",
            "OPENBLAS_NUM_THREADS": "1",
        }, function


def test_the_source_scan_finds_reads_in_wiring_shared_readers_and_properties() -> None:
    """The scan is what the test above rests on: it must see each kind of read."""
    assert "STRATEGY_WORKER_FUNCTION_NAME" in module_environment("coordinator_v2")  # settings.x in wiring
    assert "ALPACA_CREDENTIALS_SECRET" in module_environment("execution_v2")  # AlpacaBroker.from_settings
    assert "PAPER_TRADING" in module_environment("portfolio_v2")  # trading_base_url property -> paper_trading
    assert "STRATEGIES_DIR" in module_environment("strategy_v2")  # strategies_path property
    assert "ALCHEMISER_LOCAL_CLOCK" in module_environment("aggregator_v2")  # clock() method


def test_a_missing_variable_is_caught(template: dict[str, Any]) -> None:
    broken = copy.deepcopy(template)
    del broken["Resources"]["StrategyOrchestratorFunction"]["Properties"]["Environment"]["Variables"][
        "SESSION_DEADLINE_QUEUE_URL"
    ]
    assert any("SESSION_DEADLINE_QUEUE_URL" in error for error in environment_errors(broken))


def test_a_variable_pointing_at_the_wrong_resource_is_caught(template: dict[str, Any]) -> None:
    broken = copy.deepcopy(template)
    broken["Resources"]["ExecutionFunction"]["Properties"]["Environment"]["Variables"]["TRADE_LEDGER__TABLE_NAME"] = {
        "Ref": "IdempotencyTable"
    }
    assert any("TRADE_LEDGER__TABLE_NAME" in error for error in environment_errors(broken))


def test_an_unused_variable_is_caught(template: dict[str, Any]) -> None:
    broken = copy.deepcopy(template)
    broken["Resources"]["StrategyAggregatorFunction"]["Properties"]["Environment"]["Variables"][
        "ALPACA_CREDENTIALS_SECRET"
    ] = "alchemiser/dev/alpaca"
    assert any("ALPACA_CREDENTIALS_SECRET" in error for error in environment_errors(broken))


def test_no_key_is_in_the_template(template: dict[str, Any]) -> None:
    """Broker keys are never template parameters or environment values: only the secret's name is."""
    text = TEMPLATE_PATH.read_text(encoding="utf-8")
    assert "ALPACA_API_KEY" not in text and "ALPACA_SECRET_KEY" not in text
    for name, parameter in template["Parameters"].items():
        assert not any(word in name.lower() for word in ("apikey", "secretkey", "password", "token")), name
        assert parameter.get("Type") != "AWS::SSM::Parameter::Value<String>" or "Default" not in parameter, name
