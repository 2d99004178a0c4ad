"""The command dispatcher: every subcommand is listed, and running one imports only its module."""
import subprocess
import sys

from cli.main import build_parser

COMMANDS = {"assign", "build", "check", "compat", "demo", "follow", "guard", "import", "init", "keys", "merge",
            "reconcile", "serve", "site"}


def test_help_lists_every_command():
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(subparsers.choices) == COMMANDS


def test_a_command_imports_only_its_own_module():
    code = ("import sys; from cli.main import build_parser; build_parser('compat'); "
            "print(sorted(m for m in sys.modules if m.startswith(('cli.', 'registry.gate', 'server', 'builder'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "cli.compat" in loaded
    assert "cli.merge" not in loaded and "registry.gate" not in loaded and "server" not in loaded
