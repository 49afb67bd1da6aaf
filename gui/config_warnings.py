"""Settings that are allowed but risky: shown as a warning beside Launch, which stays enabled."""

from __future__ import annotations

from engine.config import RunConfig


def config_warnings(config: RunConfig) -> list[str]:
    warnings = []
    if config.model.trust_remote_code:
        warnings.append(
            "model.trust_remote_code = true runs Python code shipped with the model on this machine; "
            "only for models you trust"
        )
    if config.model.allow_pickle:
        warnings.append("model.allow_pickle = true loads pickle weight files, which can run code; only for models you trust")
    return warnings
