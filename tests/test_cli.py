"""The top-level `evkit` dispatcher: help, version, unknown commands and usage errors."""

from evkit import __version__
from evkit.cli import COMMANDS, main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert f"evkit {command}" in out


def test_no_arguments_is_a_usage_error(capsys):
    assert main([]) == 2


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command" in capsys.readouterr().err


def test_subprocess_entry_point(evkit_cli):
    result = evkit_cli("--version")
    assert result.returncode == 0, result.stderr
    from evkit.provenance import tool_identity

    assert result.stdout.strip() == f"evkit {__version__} (code sha256 {tool_identity().sha256})"


def test_subcommand_help_exits_zero(capsys):
    assert main(["demo", "--help"]) == 0
    assert "evkit demo" in capsys.readouterr().out


def test_subcommand_usage_error_exits_two(capsys):
    assert main(["demo", "--no-such-option"]) == 2
    assert "Usage" in capsys.readouterr().err
