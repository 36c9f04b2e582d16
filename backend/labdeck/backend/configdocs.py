"""Generate the docs' settings table from the declarations in `config.py`.

Run `python -m labdeck.backend.configdocs > docs/configuration.md`; a test
fails when the committed page differs, so the docs can never drift from the
code (as `permdocs.py` does for the permission table).
"""

from __future__ import annotations

import os

from .config import SECTION, SPECS, Kind, Part, Spec


def _type(spec: Spec) -> str:
    """The kind, and how its environment variable spells a value."""
    if spec.kind is Kind.SWITCH:
        return "`true`/`false` (also 1/0, yes/no, on/off)"
    if spec.kind is Kind.NAMES:
        return "names, comma-separated"
    if spec.kind is Kind.LIST:
        separator = spec.declaration.separator
        if separator == "json":
            return "list, a JSON array"
        if separator == os.pathsep:
            return "list, separated by the OS path separator (`:` on Linux and macOS)"
        return f"list, `{separator}`-separated"
    if spec.declaration.choices:
        return "one of " + ", ".join(f"`{c}`" for c in spec.declaration.choices)
    return spec.kind.value


def _default(spec: Spec) -> str:
    if spec.declaration.default_doc is not None:
        return spec.declaration.default_doc
    shown = spec.render(spec.default())
    return f"`{shown}`" if shown else "empty"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    lines = [
        "# Configuration",
        "",
        "Generated from `labdeck/backend/config.py` by",
        "`python -m labdeck.backend.configdocs`; do not edit by hand.",
        "",
        "Every setting has one name. Where its value comes from, lowest precedence first:",
        "its default, its environment variable, a Jupyter config file",
        f"(`c.{SECTION}.<name>` in `jupyter_server_config.py`, for instance), the command",
        f"line (`jupyter lab --{SECTION}.<name>=…`, `labdeck --database-url …`). An empty",
        "environment variable counts as unset.",
        "",
        "- **server**: the Jupyter server extension reads it; it is a trait of",
        f"  `{SECTION}`. The server exports `database_url`, `sample_interval` and",
        "  `flush_interval` to the kernels it starts (`KERNEL_EXPORTS` in",
        "  `labdeck/extension/app.py`).",
        "- **cli**: the `labdeck` command reads it (the Jupyter config files too, as",
        "  the server does).",
        "- **kernel**: code in a kernel (`labdeck.monitor()`, `%labdeck`, the settings",
        "  forms) reads it from the environment only.",
        "",
        "`labdeck config` prints every setting's effective value and where it came",
        "from, with secrets masked.",
        "",
        "| setting | environment variable | type | default | read by | what it does |",
        "|---|---|---|---|---|---|",
    ]
    for spec in SPECS.values():
        env = f"`{spec.env}`"
        for old in spec.declaration.deprecated_env:
            env += f" (formerly `{old}`, still read with a warning)"
        parts = ", ".join(part.value for part in Part if part in spec.parts)
        cells = (f"`{spec.name}`", env, _type(spec), _default(spec), parts, spec.help)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
