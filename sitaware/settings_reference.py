"""The settings reference (docs/settings.md), generated from `sitaware.settings.Settings`.

    python -m sitaware.settings_reference > docs/settings.md

Each field's name, default, accepted values and description come from the class, and the
sections from its `# --- section ---` comments, so the page cannot drift from the code
(tests/test_docs.py compares the two).
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path
from typing import Literal, get_args, get_origin

import annotated_types
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from sitaware.settings import REPO_ROOT, Settings

__all__ = ["settings_markdown"]

_SECTION = re.compile(r"^    # --- (?P<title>.+?) -*$")
_FIELD = re.compile(r"^    (?P<name>[a-z_][a-z0-9_]*): ")

_INTRO = """\
# Settings reference

<!-- Generated from sitaware/settings.py by `python -m sitaware.settings_reference > docs/settings.md`.
     Do not edit by hand: tests/test_docs.py fails when this page and the code differ. -->

Every setting is an environment variable with the prefix `SITAWARE_`, or a line of a `.env`
file in the working directory. Every command reads them the same way; `eval "$(sitaware stack env)"`
exports the ones the local stack needs. An invalid value stops the command before it does
anything, with one line naming the setting and why, and exit status 2:

```
sitaware: error: invalid settings: SITAWARE_CLICKHOUSE_PORT: Input should be less than or equal to 65535
```

Secrets (values `secret` below) have a `_FILE` twin holding the path of a file with the secret
(the Docker/Kubernetes secret-file convention); giving both is refused. Processes sitaware
starts itself (the demo's worker, bench workers) are handed the file paths, not the secrets."""


def _sections() -> dict[str, str]:
    """Field name -> the title of the `# --- ... ---` comment above it in Settings."""
    sections, title = {}, "general"
    for line in inspect.getsource(Settings).splitlines():
        if match := _SECTION.match(line):
            title = match["title"]
        elif match := _FIELD.match(line):
            sections[match["name"]] = title
    return sections


def _default(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, Path):
        # Defaults under the home directory or the checkout read the same on every machine.
        if value.is_relative_to(REPO_ROOT):
            value = value.relative_to(REPO_ROOT)
        elif value.is_relative_to(Path.home()):
            value = Path("~") / value.relative_to(Path.home())
    return f"`{value}`" if value != "" else "empty"


def _values(name: str, field: FieldInfo) -> str:
    annotation = field.annotation
    args = [a for a in get_args(annotation) if a is not type(None)]
    if args and get_origin(annotation) is not Literal:  # X | None
        annotation = args[0]
    if get_origin(annotation) is Literal:
        return " \\| ".join(f"`{choice}`" for choice in get_args(annotation))
    if annotation is bool:
        return "`true` \\| `false`"
    kind = {int: "integer", float: "seconds" if name.endswith("_s") else "number", str: "string",
            Path: "path", SecretStr: "secret"}.get(annotation, getattr(annotation, "__name__", str(annotation)))
    bounds = []
    for rule in field.metadata:
        for attribute, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if isinstance(rule, getattr(annotated_types, attribute.capitalize())):
                bounds.append(f"{sign} {getattr(rule, attribute):g}")
        if pattern := getattr(rule, "pattern", None):
            bounds.append(f"`{pattern}`")
    return ", ".join([kind, *bounds])


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def settings_markdown() -> str:
    sections = _sections()
    lines = [_INTRO]
    current = None
    for name, field in Settings.model_fields.items():
        if sections.get(name) != current:
            current = sections.get(name)
            lines += ["", f"## {current[0].upper()}{current[1:]}", "",
                      "| setting | default | values | meaning |", "|---|---|---|---|"]
        lines.append(
            f"| `SITAWARE_{name.upper()}` | {_cell(_default(field.default))} | {_values(name, field)} "
            f"| {_cell(field.description or '')} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(settings_markdown())
