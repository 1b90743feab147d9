"""The command line: targets from flags or REFLEKTOR_TARGETS, and refused settings."""

from __future__ import annotations

import pytest

from reflektor.__main__ import parse_args


def test_targets_come_from_flags_in_order():
    config, level = parse_args(["--target", "http://a:1/", "--target", "http://b:2",
                                "--port", "0", "--admin-port", "0", "--queue-cap", "5",
                                "--drain-timeout", "1.5"], environ={})
    assert config.targets == ("http://a:1", "http://b:2")  # a trailing slash is dropped
    assert (config.port, config.admin_port, config.queue_cap) == (0, 0, 5)
    assert config.drain_timeout == 1.5
    assert config.admin_host == "127.0.0.1"
    assert level == "INFO"


def test_without_flags_targets_come_from_the_environment():
    config, _ = parse_args([], environ={"REFLEKTOR_TARGETS": " http://a:1 ,http://b:2,"})
    assert config.targets == ("http://a:1", "http://b:2")


def test_flags_win_over_the_environment():
    config, _ = parse_args(["--target", "http://c:3"],
                           environ={"REFLEKTOR_TARGETS": "http://a:1"})
    assert config.targets == ("http://c:3",)


@pytest.mark.parametrize(
    "argv",
    [
        [],  # no target anywhere
        ["--target", "ftp://a"],
        ["--target", "http://a", "--target", "http://a/"],
        ["--target", "http://a", "--queue-cap", "0"],
        ["--target", "http://a", "--port", "70000"],
        ["--target", "http://a", "--retry-base", "0"],
        ["--target", "http://a", "--retry-base", "1", "--retry-max", "0.5"],
        ["--target", "http://a", "--give-up-after", "nan"],
        ["--target", "http://a", "--drain-timeout", "-1"],
    ],
)
def test_bad_settings_stop_start_up_with_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv, environ={})
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err
