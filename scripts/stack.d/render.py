"""Render a config template: replace each ${NAME} by the environment variable NAME.

Usage: render.py TEMPLATE OUT
Fails (exit 2) on a ${NAME} that is not set, so a typo never becomes an empty port or path.
"""
import os
import re
import sys

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render(text, env=os.environ):
    missing = sorted({m.group(1) for m in _VAR.finditer(text) if m.group(1) not in env})
    if missing:
        raise KeyError("unset variable(s): " + ", ".join(missing))
    return _VAR.sub(lambda m: env[m.group(1)], text)


def write_if_changed(path, text):
    """Leave an identical file alone, so its mtime says when the config really changed."""
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        text = f.read()
    try:
        out = render(text)
    except KeyError as e:
        print(f"render.py: {argv[1]}: {e.args[0]}", file=sys.stderr)
        return 2
    write_if_changed(argv[2], out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
