"""``kmsd serve --config FILE``: every option from a TOML file, the command line winning, bad keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmsd.cli import build_parser
from kmsd.cli.config_file import read_config, serve_parser
from tests.helpers.metrics import get
from tests.integration.server import KmsdServer, free_port, run_kmsd


def test_a_server_runs_from_its_config_file_and_flags_override_it(fresh_server: KmsdServer, tmp_path: Path) -> None:
    config = tmp_path / "kmsd.toml"
    config.write_text(
        "# kmsd serve reads these as its options\n"
        f"port = {free_port()}\n"  # overridden: KmsdServer passes --port
        'log_format = "json"\n'  # overridden below
        'log-level = "info"\n'
        'metrics = "off"\n'
        'regions = ["us-east-1", "eu-west-1"]\n'
        "explain_denials = true\n"
        "trusted-proxy-hops = 2\n"
    )
    fresh_server.extra_args = ["--config", str(config), "--log-format", "text"]
    server = fresh_server.start()  # on its --port: the command line won over the file's port
    assert get(server.port)[0] == 404  # metrics = "off", from the file
    kms = server.root_client()
    request_id = kms.list_keys()["ResponseMetadata"]["RequestId"]
    refused = server.root_client(region="ap-south-1")
    with pytest.raises(Exception, match="ap-south-1"):
        refused.list_keys()  # regions, from the file
    server.stop()
    # log-level info from the file, the text format from the command line.
    assert any(
        line.startswith(tuple("0123456789")) and f"kmsd.requests request_id={request_id}" in line
        for line in server.output().splitlines()
    ), server.output()
    assert '"logger"' not in server.output()


@pytest.mark.sqlite_only("the file is refused before any store is opened")
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("prot = 4599\n", "unknown key 'prot' (kmsd serve has no option --prot)"),
        ("config = 'other.toml'\n", "unknown key 'config' (kmsd serve has no option --config)"),
        ('port = "many"\n', "key 'port': invalid int value: 'many'"),
        ("port = true\n", "key 'port' takes a string or a number, not a boolean"),
        ("workers = 0\n", "key 'workers': must be at least 1 (got '0')"),
        ('regions = "mars-1"\n', None),
        ('dev = "yes"\n', "key 'dev' takes true or false, not a string"),
        ("host = 127\n", "key 'host' takes a string, not a number"),
        ("regions = [1, 2]\n", "key 'regions' takes a list of strings"),
        ("store = ['a']\n", "key 'store' takes a string, not a list"),
        ('log_format = "xml"\n', "key 'log_format': 'xml' is not one of 'json', 'text'"),
        ("[serve]\nport = 1\n", "unknown key 'serve' (kmsd serve has no option --serve)"),
        ("port = 1\nport = 2\n", "not TOML: Cannot overwrite a value (at line 2, column 9)"),
        ("port = 1\nPort = 2\n", "unknown key 'Port' (kmsd serve has no option --Port)"),
        ("log-level = 'info'\nlog_level = 'info'\n", "key 'log_level' repeats 'log-level'"),
    ],
)
def test_a_bad_config_file_is_refused_in_one_line_naming_the_key(
    tmp_path: Path, content: str, message: str | None
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    result = run_kmsd(["serve", "--config", str(config), "--port", str(free_port())], tmp_path, timeout=30)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    if message is None:  # the option's own words: the key and the value are named
        assert len(lines) == 1 and lines[0].startswith(f"kmsd serve: error: --config {config}: key 'regions': ")
        assert "mars-1" in lines[0]
    else:
        assert lines == [f"kmsd serve: error: --config {config}: {message}"]
    assert result.stdout == ""


@pytest.mark.sqlite_only("the file is refused before any store is opened")
def test_a_missing_config_file_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    result = run_kmsd(["serve", "--config", str(missing)], tmp_path, timeout=30)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"kmsd serve: error: --config {missing}: No such file or directory"]


@pytest.mark.sqlite_only("reads the parser, no server")
def test_every_serve_option_is_a_config_key(tmp_path: Path) -> None:
    """The keys come from the parser: each option of kmsd serve (but --config and --help) is accepted."""
    serve = serve_parser(build_parser())
    sample = {"store_true": "true", "choices": None, "int": "3", "str": '"x"'}
    lines = []
    for action in serve._actions:
        option = next((name for name in action.option_strings if name.startswith("--")), None)
        if option in (None, "--help", "--config"):
            continue
        if action.nargs == 0:
            value = sample["store_true"]
        elif action.choices is not None:
            value = f'"{next(iter(action.choices))}"'
        elif action.dest == "regions":
            value = '"us-east-1"'
        elif action.type is not None:
            value = sample["int"]
        else:
            value = sample["str"]
        lines.append(f"{option[2:]} = {value}")
    config = tmp_path / "all.toml"
    config.write_text("\n".join(lines) + "\n")
    values = read_config(config, serve)
    assert set(values) == {
        action.dest for action in serve._actions if action.option_strings and action.dest not in ("help", "config")
    }
