#!/usr/bin/env python3
"""Every command the documentation shows still parses.

Extracts each `lethe-cli …` and `scripts/…` command from the fenced code blocks and the inline code spans of
README.md, DEVELOPERS.md and docs/*.md and checks it without running it:

- lethe-cli commands (also `build/*/app/cli/lethe-cli`, `/usr/bin/lethe-cli` and `scripts/lethe cli ARGS`) go
  through lethe-cli's own argument parsing as the hidden global flag `--parse-only` does it (app/cli/main.cpp;
  all of them in one process, `lethe-cli --parse-only-stdin`): flag names, values, ranges, required and mutually
  exclusive options are checked, the command is not run, and the files and folders it names need not exist;
- `scripts/NAME …` must name a script of the repository, and `scripts/lethe SUBCOMMAND` one of its subcommands;
- `build/PRESET/tests/test_NAME FUNCTION…` (a figure from a test, such as a screenshot run) must name a test
  source tests/*/test_NAME.cpp that has each test function named.

Placeholders: a bare `...` or `…` word stands for "further arguments" (`lethe-cli attack --model M …`) and is
dropped before parsing; a quoted `"…"` is a value (a prompt). A value left to the reader is written in capitals
(`--model M`, `--out OUT_DIR`, `--step N`): it is passed as written, and where that does not parse (a number is
expected) the capital words are tried as the number 1. Brackets around options (`[--precision bfloat16]`) mark an
optional part, checked included. Lines are joined at a trailing backslash; `#` starts a comment; `&&`, `||`, `;`
and `|` separate commands. A fenced command must be complete; an inline code span may name part of one
(`lethe-cli unlearn --resume`, `lethe-cli attack --clip-names`): there a missing required option, a missing
subcommand or a missing value after a last, bare flag is not an error, but an unknown flag or a bad value is.

Prints each command it checked with its file and line; on failure names file:line, the command and lethe-cli's
message, and exits 1.

    test_documented_commands.py --cli build/default/app/cli/lethe-cli --root .
"""

import argparse
import json
import pathlib
import re
import shlex
import subprocess
import sys

SEPARATORS = {"&&", "||", ";", "|", "&"}
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*$")


def documentation_files(root):
    files = [root / "README.md", root / "DEVELOPERS.md"]
    files += sorted((root / "docs").glob("*.md"))
    return [f for f in files if f.is_file()]


def documented_lines(path):
    """(line number, text) of every command-like text: each line of a fenced code block (continuation lines
    joined), and each inline code span of the prose (`lethe-cli …`, which may wrap over lines)."""
    in_fence = False
    fence = ""
    pending = None  # (first line number, text so far)
    paragraph = []  # (line number, text) of the prose paragraph being read
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines() + [""], start=1):
        stripped = line.strip()
        if not in_fence:
            match = re.match(r"^(`{3,}|~{3,})", stripped)
            if match or not stripped:
                yield from inline_spans(paragraph)
                paragraph = []
            if match:
                in_fence, fence = True, match.group(1)
            elif stripped:
                paragraph.append((number, line))
            continue
        if stripped.startswith(fence):
            if pending:
                yield pending + ("block",)
            in_fence, pending = False, None
            continue
        text = line.rstrip()
        continued = text.endswith("\\")
        if continued:
            text = text[:-1]
        if pending:
            pending = (pending[0], pending[1] + " " + text.strip())
        else:
            pending = (number, text.strip())
        if not continued:
            yield pending + ("block",)
            pending = None


def inline_spans(paragraph):
    if not paragraph:
        return
    text = "\n".join(line for _, line in paragraph)
    for match in re.finditer(r"`([^`]+)`", text):
        span = " ".join(match.group(1).split())
        if re.match(r"^(\S*lethe-cli|scripts/[\w.-]+)( |$)", span):
            yield paragraph[text.count("\n", 0, match.start())][0], span, "inline"


def split_words(text):
    # A quoted ellipsis is a value; a bare one is dropped below. Brackets mark an optional part, checked included.
    text = text.replace('"…"', '"TEXT"').replace("'…'", "'TEXT'")
    text = re.sub(r"\[(--[^\[\]]*)\]", r"\1", text)
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError:
        return None


def commands_in(words):
    """The documented programs' commands among the words of one line: (program, arguments)."""
    segment = []
    for word in words + [";"]:
        if word not in SEPARATORS:
            segment.append(word)
            continue
        while segment and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", segment[0]):
            segment = segment[1:]  # environment assignments before the program
        if segment and segment[0] == "sudo":
            segment = segment[1:]
        if segment and segment[0] in ("python", "python3") and len(segment) > 1:
            segment = segment[1:]
        if segment:
            program = segment[0]
            arguments = [w for w in segment[1:] if w not in ("...", "…")]
            if program == "lethe-cli" or program.endswith("/lethe-cli"):
                yield "lethe-cli", arguments
            elif re.match(r"^scripts/[\w.-]+$", program):
                yield program, arguments
            elif re.match(r"^build/[\w.-]+/tests/test_\w+$", program):
                yield program, arguments
        segment = []


class Parser:
    """lethe-cli's argument parsing, one process for every command: `lethe-cli --parse-only-stdin` reads a JSON
    list of arguments per line and answers each with its exit code and stderr, as `lethe-cli --parse-only
    ARGUMENTS` would (a start of lethe-cli takes about a second)."""

    def __init__(self, cli):
        self.process = subprocess.Popen([cli, "--parse-only-stdin"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, bufsize=1)

    def parse(self, arguments):
        """None when the arguments parse, else lethe-cli's message."""
        self.process.stdin.write(json.dumps(arguments) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit("error: lethe-cli --parse-only-stdin ended early (exit code "
                             f"{self.process.wait()})")
        answer = json.loads(line)
        if answer["exit"] == 0:
            return None
        return answer["message"].strip().replace("\n", " / ")

    def close(self):
        self.process.stdin.close()
        self.process.wait()

    def parse_with_placeholders(self, arguments):
        """A value written in capitals (N, B, STEPS) stands for any valid one: when the words as written do not
        parse, they are tried again with each such value as the number 1."""
        message = self.parse(arguments)
        if message is None or not any(PLACEHOLDER.match(w) for w in arguments):
            return message
        return self.parse(["1" if PLACEHOLDER.match(w) else w for w in arguments])


def incomplete_only(message, arguments):
    """An inline span names part of a command (`lethe-cli unlearn --resume`, `--clip-names`): missing required
    options, a missing subcommand or a value after a last, bare flag are not errors there."""
    if re.search(r"is required|A subcommand is required", message):
        return True
    return bool(arguments) and arguments[-1].startswith("-") and bool(re.search(r"required \w+ missing", message))


def lethe_subcommands(root):
    text = (root / "scripts" / "lethe").read_text(encoding="utf-8")
    return set(re.findall(r"^    ([a-z][a-z-]*)\)", text, flags=re.M))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", required=True, help="the lethe-cli to parse with")
    parser.add_argument("--root", required=True, help="the source tree")
    options = parser.parse_args()
    root = pathlib.Path(options.root).resolve()
    subcommands = lethe_subcommands(root)
    lethe_cli = Parser(options.cli)

    checked = {}
    failures = []
    for path in documentation_files(root):
        name = path.relative_to(root).as_posix()
        for number, text, kind in documented_lines(path):
            if "lethe-cli" not in text and "scripts/" not in text and "/tests/test_" not in text:
                continue
            words = split_words(text)
            if words is None:
                failures.append(f"{name}:{number}: cannot split into words: {text}")
                continue
            for program, arguments in commands_in(words):
                shown = " ".join([program] + arguments)
                where = f"{name}:{number}"
                checked[name] = checked.get(name, 0) + 1
                if program == "scripts/lethe" and arguments[:1] == ["cli"]:
                    program, arguments = "lethe-cli", arguments[1:]
                if program == "lethe-cli":
                    message = lethe_cli.parse_with_placeholders(arguments)
                    if message is not None and not (kind == "inline" and incomplete_only(message, arguments)):
                        failures.append(f"{where}: {shown}\n    lethe-cli: {message}")
                        print(f"FAIL {where}: {shown}")
                        continue
                elif program.startswith("build/"):
                    # A Qt Test executable and its test functions (the figures of screenshot runs).
                    binary = program.rsplit("/", 1)[1]
                    sources = sorted(root.glob(f"tests/*/{binary}.cpp"))
                    missing = [f for f in arguments if not f.startswith("-") and not (
                        sources and re.search(r"\bvoid " + re.escape(f) + r"\(\)", sources[0].read_text()))]
                    if not sources or missing:
                        problem = f"no tests/*/{binary}.cpp" if not sources else \
                            f"{sources[0].relative_to(root)} has no test function " + ", ".join(missing)
                        failures.append(f"{where}: {shown}\n    {problem}")
                        print(f"FAIL {where}: {shown}")
                        continue
                else:
                    script = root / program
                    if not script.is_file():
                        failures.append(f"{where}: {shown}\n    no such script: {program}")
                        print(f"FAIL {where}: {shown}")
                        continue
                    if program == "scripts/lethe" and arguments and arguments[0] not in subcommands:
                        given = arguments[0] if arguments else "(none)"
                        failures.append(f"{where}: {shown}\n    scripts/lethe has no subcommand {given}; it has "
                                        + ", ".join(sorted(subcommands)))
                        print(f"FAIL {where}: {shown}")
                        continue
                print(f"ok   {where}: {shown}")

    lethe_cli.close()
    total = sum(checked.values())
    print(f"{total} documented commands checked: "
          + ", ".join(f"{count} in {name}" for name, count in checked.items()))
    if total == 0:
        print("error: no documented commands found (is --root the source tree?)")
        return 1
    if failures:
        print(f"\n{len(failures)} documented commands do not parse:")
        for failure in failures:
            print(failure)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
