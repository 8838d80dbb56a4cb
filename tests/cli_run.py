"""Run ``rlhf-env`` in-process, as the CLI tests do: exit code, stdout, stderr."""

from __future__ import annotations

from rlhf_env.cli import main


def run_cli(argv, capsys):
    """``main(argv)`` (items turned into strings) → ``(code, out, err)``; argparse's own
    ``SystemExit`` (bad usage, ``--help``) gives its code."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err
