"""Text banners for the sample app.

The lesson edits this module to show an editable install at work: after
``pip install -e .`` a change here shows up in ``sample-banner`` and in the
``/`` endpoint at once, with no rebuild of a wheel and no reinstall.
"""

import sys

BORDER = "*"


def banner(text: str, border: str = BORDER) -> str:
    """Frame ``text`` in a box drawn with ``border``."""
    lines = text.splitlines() or [""]
    width = max(len(line) for line in lines)
    edge = border * (width + 4)
    body = [f"{border} {line.ljust(width)} {border}" for line in lines]
    return "\n".join([edge, *body, edge])


def main(argv: "list[str] | None" = None) -> int:
    """Console script ``sample-banner``: print a banner of its arguments."""
    args = sys.argv[1:] if argv is None else argv
    print(banner(" ".join(args) or "Hello, Docker!"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
