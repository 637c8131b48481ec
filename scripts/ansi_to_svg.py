#!/usr/bin/env python3
"""Turn a `tmux capture-pane -e -p` capture (text with ANSI colours) into an
SVG terminal picture with rich (pip install rich). Used by screenshots.sh."""
import sys

from rich.console import Console
from rich.text import Text


def main() -> None:
    src, dst, title, width = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open(src, encoding="utf-8", errors="replace") as f:
        lines = f.read().rstrip("\n").split("\n")
    console = Console(record=True, width=width, force_terminal=True, color_system="truecolor", file=open("/dev/null", "w"))
    for line in lines:
        console.print(Text.from_ansi(line), no_wrap=True, overflow="crop", soft_wrap=False)
    console.save_svg(dst, title=title)


if __name__ == "__main__":
    main()
