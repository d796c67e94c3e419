"""The docs describe the code as it is: the settings page is generated and current, every
command and option is documented, no link leaves the repository, the README stays short,
and the subscription examples would match real situations."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from sitaware.cli import build_parser
from sitaware.settings import REPO_ROOT, Settings
from sitaware.settings_reference import settings_markdown
from topics.districts import Districts
from topics.records import Subscription

DOCS = REPO_ROOT / "docs"
PAGES = [REPO_ROOT / "README.md", REPO_ROOT / "CHANGELOG.md", *sorted(DOCS.glob("*.md"))]
README_MAX_LINES = 150

_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.M)
_AUTOLINK = re.compile(r"<((?:[a-z][a-z0-9+.-]*):[^>\s]+)>", re.I)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def _links(markdown: str) -> list[str]:
    """Link targets outside code blocks and code spans (commands and URLs there are examples)."""
    text = _CODE_SPAN.sub("", _FENCE.sub("", markdown))
    return [*_INLINE_LINK.findall(text), *_REFERENCE_LINK.findall(text), *_AUTOLINK.findall(text)]


def _bad_links(markdown: str, page: Path) -> list[str]:
    """Why each link of `page` that does not lead to a file of the repository is bad."""
    bad = []
    for target in _links(markdown):
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if _SCHEME.match(target):
            bad.append(f"{target}: leaves the repository")
        elif not linked.is_relative_to(REPO_ROOT):
            bad.append(f"{target}: outside the repository")
        elif not linked.exists():
            bad.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            bad.append(f"{target}: no heading #{anchor}")
    return bad


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", _FENCE.sub("", page.read_text(encoding="utf-8")), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_the_settings_reference_is_generated_from_the_code():
    assert (DOCS / "settings.md").read_text(encoding="utf-8") == settings_markdown(), (
        "docs/settings.md is stale: python -m sitaware.settings_reference > docs/settings.md"
    )


def test_every_setting_has_a_description_and_a_row():
    page = (DOCS / "settings.md").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        assert field.description, f"sitaware/settings.py: {name} has no Field(description=...)"
        assert f"`SITAWARE_{name.upper()}`" in page


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_links_stay_inside_the_repository(page):
    assert _bad_links(page.read_text(encoding="utf-8"), page) == []


def test_the_link_check_sees_bad_links():
    page = DOCS / "example.md"
    markdown = ("[a](../../shared/CONTRACT.md) [b](https://example.org/) <http://x.test/> "
                "[c](missing.md) [d](surface.md#no-such-heading) [e](surface.md#stream-time) "
                "`[f](../shared/not-a-link-in-code.md)`\n\n[g]: ../README.md\n")
    assert [reason.split(":")[0] for reason in _bad_links(markdown, page)] == [
        "../../shared/CONTRACT.md", "https", "missing.md", "surface.md#no-such-heading", "http"]
    assert "surface.md#stream-time" in _links(markdown) and "../README.md" in _links(markdown)


def test_the_readme_is_short_and_starts_with_the_two_commands():
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; the guide belongs in docs/"
    assert lines[:5] == [
        "# sitaware",
        "",
        "```bash",
        "make demo   # main job: sets up everything, starts the local Kafka + ClickHouse stack, runs the demo",
        "make test   # the test suite on the real stack (what CI runs: .ci/run)",
    ]


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, its parser) for every subcommand, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from _commands(sub, (*path, name))


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [option for action in parser._actions if not isinstance(action, argparse._HelpAction)
            for option in action.option_strings]


def _heading(command: str) -> re.Pattern:
    return re.compile(rf"^#{{1,3}} `{re.escape(command)}`$", re.M)


def _section(page: str, command: str) -> str:
    """The part of docs/commands.md under the heading naming `command`, to the next heading."""
    match = _heading(command).search(page)
    assert match, f"docs/commands.md has no heading `{command}`"
    following = re.compile(r"^#{1,3} ", re.M).search(page, match.end())
    return page[match.end():following.start() if following else len(page)]


COMMANDS = list(_commands(build_parser()))


def test_every_command_is_in_the_docs():
    docs = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md"))
    wanted = []
    for path, parser in COMMANDS:
        wanted.append(f"sitaware {' '.join(path)}")
        for action in parser._actions:  # positional choices: `stack up`, `topics create`
            if not action.option_strings and action.choices and not isinstance(action, argparse._SubParsersAction):
                wanted += [f"sitaware {' '.join(path)} {choice}" for choice in action.choices]
    assert [command for command in wanted if command not in docs] == [], "not in docs/"


@pytest.mark.parametrize("path, parser", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_option_is_in_its_command_section(path, parser):
    page = (DOCS / "commands.md").read_text(encoding="utf-8")
    # `sitaware api token` has a section of its own; `sitaware subscribe put` is in `subscribe`'s.
    command = f"sitaware {' '.join(path)}"
    while not _heading(command).search(page) and " " in command.removeprefix("sitaware "):
        command = command.rsplit(" ", 1)[0]
    section = _section(page, command)
    missing = [option for option in _options(parser) if f"`{option}`" not in section]
    assert missing == [], f"docs/commands.md, `{command}`: options not documented"


def test_the_top_level_options_are_in_the_commands_page():
    page = (DOCS / "commands.md").read_text(encoding="utf-8")
    for option in _options(build_parser()):
        assert f"`{option}`" in page or f"`sitaware {option}`" in page, f"sitaware {option}"


def _subscription_examples():
    for page in PAGES:
        for block in re.findall(r"(\{[^{}]*\"subscription_id\"[^{}]*\})", page.read_text(encoding="utf-8")):
            yield page, block


def test_subscription_examples_are_valid_and_name_real_districts():
    districts = {p.district for p in Districts.from_geojson(Settings.model_fields["districts_file"].default).polygons}
    examples = list(_subscription_examples())
    assert examples, "the README's subscription example is gone"
    for page, block in examples:
        subscription = Subscription.model_validate(json.loads(block))
        unknown = set(subscription.districts) - districts
        assert not unknown, f"{page.name}: {sorted(unknown)} are not district ids (those are {sorted(districts)})"
