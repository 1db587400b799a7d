"""docs/benchmarks.md: each benchmark rewrites its own section and keeps the others."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def replace_section(heading: str, lines: list[str], docs: Path = DOCS) -> None:
    """Put `lines` (starting with `heading`) in place of that section, or append them."""
    text = docs.read_text()
    start = text.find(heading)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    else:
        end = text.find("\n## ", start + len(heading))
        rest = text[end:] if end != -1 else "\n"
        text = text[:start] + "\n".join(lines) + "\n" + rest
    docs.write_text(text)
