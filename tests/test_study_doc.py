"""docs/deepmouse-study.md stays true to the tool.

Every ``deepmouse ...`` line in the doc's code blocks must be accepted by the command line's
own parser (the Click command built from the Typer app; nothing is run), its ``--model`` must
name a family, its ``--split`` a split, and a sweep's ``--grid`` names must be parameters the
family (or the run) takes. Every image the doc shows must be in ``docs/study/``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer
import typer.main

from deepmouse.classifier import HandClassifier
from deepmouse.cli import app
from deepmouse.families import DEFAULT_FAMILY, FAMILIES
from deepmouse.search import RUN_GRID, parse_grid
from deepmouse.windows import SPLITS

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "deepmouse-study.md"
IMAGES = ROOT / "docs" / "study"
UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
"""The parser's refusal (Typer vendors Click, whose ``UsageError`` it does not re-export)."""


def command_lines(markdown: str) -> list[str]:
    """The ``deepmouse ...`` command lines inside the fenced code blocks of ``markdown``
    (lines ending in a backslash joined to the next)."""
    lines, inside, pending = [], False, ""
    for raw in markdown.splitlines():
        if raw.strip().startswith("```"):
            inside, pending = not inside, ""
            continue
        if not inside:
            continue
        text = pending + raw.strip()
        if text.endswith("\\"):
            pending = text[:-1] + " "
            continue
        pending = ""
        if text.startswith("deepmouse "):
            lines.append(text)
    return lines


def parse(line: str):
    """Parse one ``deepmouse ...`` line with the CLI's parser, without invoking it.

    Returns:
        The (Click) command and the context holding the parsed parameters.

    Raises:
        UsageError (or a subclass, such as BadParameter): the parser refuses the line.
    """
    args = shlex.split(line, comments=True)
    assert args[0] == "deepmouse"
    command = typer.main.get_command(app)
    args = args[1:]
    while getattr(command, "commands", None):  # a group: descend to the subcommand
        if not args:
            raise UsageError(f"{line!r}: no subcommand")
        name, args = args[0], args[1:]
        if name not in command.commands:
            raise UsageError(f"no such command {name!r}")
        command = command.commands[name]
    return command, command.make_context(command.name, list(args))


def check_values(context) -> None:
    """The values the parser takes as plain strings: the family, the split, a sweep's grid."""
    params = context.params
    family = params.get("model") or DEFAULT_FAMILY
    assert family in FAMILIES, f"unknown family {family!r}"
    if params.get("split") is not None:
        assert params["split"] in SPLITS, f"unknown split {params['split']!r}"
    if params.get("grid"):
        grid = parse_grid(params["grid"])
        taken = set(HandClassifier(family).get_params()) | set(RUN_GRID)
        unknown = sorted(set(grid) - taken)
        assert not unknown, f"{family} takes no {unknown}"


def image_paths(markdown: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", markdown)


def test_the_doc_has_commands_and_images():
    text = DOC.read_text(encoding="utf-8")
    assert len(command_lines(text)) >= 13
    assert len(image_paths(text)) >= 10


@pytest.mark.parametrize("line", command_lines(DOC.read_text(encoding="utf-8")))
def test_every_command_is_accepted_by_the_parser(line):
    _, context = parse(line)
    check_values(context)


def test_every_image_is_in_docs_study():
    text = DOC.read_text(encoding="utf-8")
    for path in image_paths(text):
        target = (DOC.parent / path).resolve()
        assert target.parent == IMAGES.resolve(), f"{path} is not in docs/study/"
        assert target.is_file(), f"{path} is missing"
        assert target.stat().st_size < 150_000, f"{path} is over 150 KB"


def test_the_checks_can_fail():
    good = "deepmouse sweep ../shared/data/deepmouse/touchpad --model lstm --grid lr=1e-3,1e-4"
    check_values(parse(good)[1])
    with pytest.raises(UsageError):
        parse(good + " --no-such-option 1")
    with pytest.raises(UsageError):
        parse("deepmouse no-such-command x")
    with pytest.raises(typer.BadParameter):
        parse("deepmouse train x --epochs many")
    with pytest.raises(AssertionError):
        check_values(parse(good.replace("lr=", "learning_rate="))[1])
    with pytest.raises(AssertionError):
        check_values(parse(good.replace("lstm", "transformer"))[1])
    with pytest.raises(AssertionError):
        check_values(parse(good + " --split shuffled")[1])
    block = "```\ndeepmouse train a \\\n  --epochs 3   # note\n```\ndeepmouse outside a block\n"
    assert command_lines(block) == ["deepmouse train a  --epochs 3   # note"]
    assert image_paths("![a](study/x.png) text ![b](study/y.png)") == ["study/x.png",
                                                                         "study/y.png"]
