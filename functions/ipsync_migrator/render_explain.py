"""`discover --explain ID`: why discovery reports a deployment as it does."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text

from ipsync_migrator.models import Deployment
from ipsync_migrator.render import SEVERITY_STYLE, VERDICT_STYLE, plain


def explain_view(deployment: Deployment) -> Group:
    """The deployment's verdict and confidence, the signals that matched, its findings."""
    parts: list[Any] = [
        Text.assemble(
            ("Deployment ", "bold"),
            plain(deployment.id, "bold cyan"),
            ("  verdict: ", ""),
            plain(deployment.verdict.value, VERDICT_STYLE[deployment.verdict]),
            ("  confidence: ", ""),
            plain(deployment.confidence.value, "bold"),
        ),
        plain(f"function {deployment.function.name} ({deployment.function.arn})"),
        plain(f"target group {deployment.target_group_arn}"),
        plain("Signals", "bold"),
        *[plain(f"  - {signal}") for signal in deployment.signals or ["none"]],
    ]
    migration = deployment.migration
    if migration is not None:
        new_group = migration.new_target_group_arn
        parts.append(
            plain(
                f"Migration: {migration.state}, execution {migration.execution or 'unknown'} "
                f"(from the {migration.source})"
                + (f", new group {new_group}" if new_group else ""),
                "cyan",
            )
        )
    parts.append(plain("Findings", "bold"))
    for finding in deployment.findings:
        parts.append(
            Text.assemble(
                "  ",
                plain(finding.code.value, SEVERITY_STYLE[finding.severity]),
                f" ({finding.severity.value}) ",
                plain(finding.message),
            )
        )
        if finding.remediation:
            parts.append(Text.assemble("    fix: ", plain(finding.remediation, "italic")))
    return Group(*parts)
