"""Handwriting sets from the command line:

    python -m core.handwriting import NAME PATH     # a folder or a zip in the layout <digit>/<image>
    python -m core.handwriting list
    python -m core.handwriting delete NAME

Sets live in $DIGIT_LAB_HANDWRITING_DIR, else artifacts/handwriting (see core.runs.handwriting_sets).
An import is all or nothing: a bad file refuses it whole, with the reason, and the set keeps what it had.
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.runs.command_line import OneLineParser, fail
from core.runs.handwriting_sets import (
    HandwritingError,
    HandwritingSet,
    check_set_name,
    handwriting_dir_setting,
    list_sets,
)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m core.handwriting", description="Manage handwriting sets.")
    parser.add_argument("--root",
                        help="where sets live (default: $DIGIT_LAB_HANDWRITING_DIR, else artifacts/handwriting)")
    commands = parser.add_subparsers(dest="command", required=True)
    imports = commands.add_parser("import", help="import a folder or a zip into a set (made if new)")
    imports.add_argument("name")
    imports.add_argument("path")
    commands.add_parser("list", help="every set with its counts per digit")
    deletes = commands.add_parser("delete", help="delete a set and its files")
    deletes.add_argument("name")
    args = parser.parse_args(argv)
    root = Path(args.root) if args.root else handwriting_dir_setting()
    try:
        if args.command == "list":
            for name in list_sets(root):
                hw = HandwritingSet(root / name)
                print(f"{name}: {sum(hw.counts())} samples {hw.counts()} in {hw.path}")
        elif args.command == "delete":
            HandwritingSet(root / check_set_name(args.name)).delete()
            print(f"deleted {root / args.name}")
        else:
            source = Path(args.path)
            if not source.exists():
                fail(f"python -m core.handwriting: {source} does not exist")
            hw = HandwritingSet.create(args.name, root)
            added = hw.import_folder(source) if source.is_dir() else hw.import_zip(source)
            print(f"imported {len(added)} samples into {hw.path}; it holds {sum(hw.counts())} {hw.counts()}")
    except HandwritingError as e:
        fail(f"python -m core.handwriting: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
