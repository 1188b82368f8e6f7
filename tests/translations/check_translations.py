#!/usr/bin/env python3
"""Fails when a user-visible string of the window has no finished translation.

For each translations/*.ts file it runs lupdate, with the flags of the lethe_update_translations target, on the
window's and the widgets' sources into a temporary copy of the file, so that a tr() string the committed file
lacks shows up there as a new, unfinished message. Every message of the copy must then have a finished, non-empty
translation (each numerus form too). Each one that has none is printed as FILE: CONTEXT: "SOURCE" (why).

Before that it checks itself on a deliberately broken case: a small .ts file with a translation marked
unfinished and an empty one, for a source file with a tr() string the .ts file lacks; all three must be reported.

    check_translations.py --lupdate PATH --root SOURCE_DIR TS_FILE...
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree

# The sources lethe_update_translations (app/gui/CMakeLists.txt) gives lupdate.
SOURCE_GLOBS = ("app/gui/*.cpp", "app/gui/*.h", "widgets/*.cpp", "widgets/*.h")


def translatable_sources(root):
    files = []
    for pattern in SOURCE_GLOBS:
        files.extend(sorted(glob.glob(os.path.join(root, pattern))))
    if not files:
        raise SystemExit(f"error: no translatable sources under {root} ({', '.join(SOURCE_GLOBS)})")
    return files


def run_lupdate(lupdate, sources, ts_file):
    result = subprocess.run([lupdate, "-no-obsolete", "-locations", "none", *sources, "-ts", ts_file],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise SystemExit(f"error: lupdate failed on {ts_file} (exit {result.returncode}):\n{result.stdout}")


def missing_translations(ts_file, shown_name):
    """The messages of `ts_file` without a finished translation, as printable lines."""
    missing = []
    for context in ElementTree.parse(ts_file).getroot().iter("context"):
        context_name = context.findtext("name", default="")
        for message in context.iter("message"):
            source = message.findtext("source", default="")
            translation = message.find("translation")
            why = None
            if translation is None:
                why = "no translation"
            elif translation.get("type") in ("unfinished", "vanished", "obsolete"):
                why = translation.get("type")
            elif message.get("numerus") == "yes":
                forms = [form.text or "" for form in translation.iter("numerusform")]
                if not forms or any(not form.strip() for form in forms):
                    why = "an empty numerus form"
            elif not (translation.text or "").strip():
                why = "empty"
            if why:
                missing.append(f'{shown_name}: {context_name}: "{source}" ({why})')
    return missing


def check(lupdate, sources, ts_files, scratch):
    """Every missing translation of `ts_files`, after lupdate on `sources` into copies in `scratch`."""
    missing = []
    for ts_file in ts_files:
        copy = os.path.join(scratch, os.path.basename(ts_file))
        shutil.copyfile(ts_file, copy)
        run_lupdate(lupdate, sources, copy)
        missing.extend(missing_translations(copy, ts_file))
    return missing


def self_test(lupdate, scratch):
    """The check must pass a finished translation and report a translation marked unfinished, an empty one and
    a tr() string the .ts file lacks."""
    os.makedirs(os.path.join(scratch, "out"))
    probe = os.path.join(scratch, "translation_probe.cpp")
    with open(probe, "w", encoding="utf-8") as out:
        out.write("#include <QCoreApplication>\n")
        for text in ("Translated", "Marked unfinished", "Left empty", "New in the sources"):
            out.write(f'QString probe{len(text)}() {{ return QCoreApplication::translate("lethe::probe", "{text}"); }}\n')
    broken = os.path.join(scratch, "lethe_de.ts")
    with open(broken, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE TS>\n<TS version="2.1" language="de_DE">\n'
                  "<context><name>lethe::probe</name>\n"
                  "<message><source>Translated</source><translation>Übersetzt</translation></message>\n"
                  '<message><source>Marked unfinished</source><translation type="unfinished">Unfertig</translation>'
                  "</message>\n"
                  "<message><source>Left empty</source><translation></translation></message>\n"
                  "</context>\n</TS>\n")
    found = check(lupdate, [probe], [broken], os.path.join(scratch, "out"))
    expected = [f'{broken}: lethe::probe: "{text}" ({why})' for text, why in (
        ("Marked unfinished", "unfinished"), ("Left empty", "empty"), ("New in the sources", "unfinished"))]
    if sorted(found) != sorted(expected):
        raise SystemExit("error: the check does not catch what is missing in a broken translation file; expected:\n  "
                         + "\n  ".join(expected) + "\nfound:\n  " + "\n  ".join(found))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lupdate", required=True, help="Qt 6 lupdate")
    parser.add_argument("--root", required=True, help="the source tree")
    parser.add_argument("ts_files", nargs="+")
    args = parser.parse_args()

    sources = translatable_sources(args.root)
    with tempfile.TemporaryDirectory(prefix="lethe-translations-") as scratch:
        self_test(args.lupdate, os.path.join(scratch, "self-test"))
        os.makedirs(os.path.join(scratch, "check"))
        missing = check(args.lupdate, sources, args.ts_files, os.path.join(scratch, "check"))
    if missing:
        print(f"{len(missing)} user-visible string(s) without a finished translation (fill them in the .ts files; "
              "`cmake --build build/default --target lethe_update_translations` adds new tr() strings):")
        for line in missing:
            print("  " + line)
        return 1
    print(f"every tr() string of {len(sources)} source files has a finished translation in "
          + ", ".join(os.path.basename(f) for f in args.ts_files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
