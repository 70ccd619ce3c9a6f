"""The image's Dockerfile, read as Docker reads it: its final stage, CMD and HEALTHCHECK."""

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


DOCKERFILE = REPO / "Dockerfile"


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of each instruction: continuations joined, comments dropped."""
    instructions, pending = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue  # comments (Docker drops them inside continuations too) and blank lines
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def final_stage(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    instructions = dockerfile_instructions(path)
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def exec_form(arguments: str) -> list[str]:
    """The JSON array of an exec-form CMD (shell form would run through /bin/sh)."""
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), arguments
    return value


def image_cmd() -> list[str]:
    cmds = [arguments for keyword, arguments in final_stage() if keyword == "CMD"]
    assert len(cmds) == 1, cmds
    return exec_form(cmds[0])


def healthcheck_cmd() -> list[str]:
    checks = [arguments for keyword, arguments in final_stage() if keyword == "HEALTHCHECK"]
    assert len(checks) == 1, checks
    options, found, command = checks[0].partition("CMD ")
    assert found and all(o.startswith("--") for o in options.split()), checks[0]
    return exec_form(command)
