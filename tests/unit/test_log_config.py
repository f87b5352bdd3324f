"""The pillar's logging: section applied to real loggers and a real rotating file (issue 16)."""

from __future__ import annotations

import logging

import pytest

from dcluster.config import load
from dcluster.glue import log_config

MIN = {"secret": "0123456789abcdef", "cluster": {"type": "slurm"}}
LOGGERS = ("dcluster.test_log_config", "salt.loaded.ext.engines.test_log_config")


@pytest.fixture(autouse=True)
def clean():
    yield
    log_config.apply(None, loggers=LOGGERS)
    assert log_config._handler is None


def section(**kw):
    return load({**MIN, "logging": kw}).logging


def test_the_level_is_set_and_unset_leaves_salts(tmp_path):
    log_config.apply(section(log_level=3), loggers=LOGGERS)
    assert all(logging.getLogger(n).level == logging.DEBUG for n in LOGGERS)
    log_config.apply(section(log_level=0), loggers=LOGGERS)
    assert all(logging.getLogger(n).level == logging.ERROR for n in LOGGERS)
    log_config.apply(section(), loggers=LOGGERS)  # unset: the loggers follow Salt's (their parents') level
    assert all(logging.getLogger(n).level == logging.NOTSET for n in LOGGERS)


def test_the_file_gets_the_format_the_level_and_no_secret(tmp_path):
    path = tmp_path / "dcluster.log"
    log_config.apply(
        section(log_level=2, log_location=str(path), log_format="%(levelname)s|%(name)s|%(message)s"), loggers=LOGGERS
    )
    lib, engine = (logging.getLogger(n) for n in LOGGERS)
    lib.info("launched %s", "w1")
    lib.debug("below the level")
    engine.warning("token=%s", "hunter2hunter2hunter2")
    log_config._handler.flush()
    lines = path.read_text().splitlines()
    assert lines[0] == "INFO|dcluster.test_log_config|launched w1"
    assert len(lines) == 2 and lines[1].startswith("WARNING|salt.loaded.ext.engines.test_log_config|")
    assert "hunter2" not in lines[1]


def test_the_file_rotates_at_max_size_keeping_three(tmp_path):
    path = tmp_path / "dcluster.log"
    log_config.apply(
        section(log_level=2, log_location=str(path), log_max_size=1024, log_format="%(message)s"), loggers=LOGGERS
    )
    for i in range(100):
        logging.getLogger(LOGGERS[0]).info("line %03d %s", i, "x" * 60)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["dcluster.log", "dcluster.log.1", "dcluster.log.2", "dcluster.log.3"]
    assert all(p.stat().st_size <= 1024 for p in tmp_path.iterdir())
    assert "line 099" in path.read_text()


def test_changed_settings_replace_the_handler_and_unchanged_keep_it(tmp_path):
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    log_config.apply(section(log_location=str(a)), loggers=LOGGERS)
    first = log_config._handler
    log_config.apply(section(log_location=str(a)), loggers=LOGGERS)  # every pillar reload: same handler
    assert log_config._handler is first
    assert all(logging.getLogger(n).handlers.count(first) == 1 for n in LOGGERS)
    log_config.apply(section(log_location=str(b)), loggers=LOGGERS)
    assert log_config._handler is not first and first.stream is None  # the old file is closed
    assert all(first not in logging.getLogger(n).handlers for n in LOGGERS)
    logging.getLogger(LOGGERS[0]).warning("to b")
    log_config._handler.flush()
    assert "to b" in b.read_text() and "to b" not in a.read_text()


def test_a_missing_directory_fails_when_applied(tmp_path):
    with pytest.raises(OSError):
        log_config.apply(section(log_location=str(tmp_path / "no" / "such" / "x.log")), loggers=LOGGERS)


@pytest.mark.parametrize(
    "logging_section, error",
    [
        ({"log_location": "dcluster.log"}, "dcluster:logging:log_location: 'dcluster.log' must be an absolute path"),
        ({"log_format": "%(nosuch)s"}, "dcluster:logging:log_format: '%(nosuch)s' is not a logging format"),
        ({"log_format": "{message}"}, "dcluster:logging:log_format: '{message}' is not a logging format"),
        ({"log_level": 4}, "dcluster:logging:log_level: 4 is above the maximum 3"),
        ({"log_max_size": 10}, "dcluster:logging:log_max_size: 10 is below the minimum 1024"),
        ({"log_file": "/var/log/x"}, "dcluster:logging:log_file: unknown key"),
    ],
)
def test_bad_logging_settings_are_rejected_naming_the_key(logging_section, error):
    from dcluster.config import errors

    assert any(e.startswith(error) for e in errors({**MIN, "logging": logging_section})), errors(
        {**MIN, "logging": logging_section}
    )
