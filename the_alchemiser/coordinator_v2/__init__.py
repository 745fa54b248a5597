"""Strategy Orchestrator: schedule -> calendar check -> session -> one async worker per strategy file."""
