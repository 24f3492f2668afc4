"""``--log-config FILE``: reading and checking it, each mistake at its place, all at once.

Only reading is tested here: applying a configuration changes the process's logging, so
``test_logging_commands.py`` applies them in ``mserve`` and ``mqctl`` processes.
"""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from mqwire.runtime.errors import ConfigurationError
from mqwire.runtime.logs.config_file import LogConfigError, read_log_config

YAML = """\
version: 1
formatters:
  json: {"()": mqwire.runtime.logs.JsonFormatter}
handlers:
  file: {class: logging.FileHandler, filename: worker.log, formatter: json}
loggers:
  mqwire: {level: INFO, handlers: [file]}
  pika: {level: ERROR, handlers: [file], propagate: false}
"""

INI = """\
[loggers]
keys = root, pika

[handlers]
keys = console

[formatters]
keys = plain

[logger_root]
level = INFO
handlers = console

[logger_pika]
level = ERROR
handlers =
qualname = pika

[handler_console]
class = StreamHandler
args = (sys.stderr,)
formatter = plain

[formatter_plain]
format = %(asctime)s %(levelname)s %(name)s: %(message)s
"""


def problems(path: Path) -> list[str]:
    with pytest.raises(LogConfigError) as raised:
        read_log_config(path)
    assert isinstance(raised.value, ConfigurationError)  # mserve and mqctl exit 2 for it
    return str(raised.value).splitlines()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_yaml_dict_config_is_read_keeping_loggers_that_exist_unless_it_says_otherwise(
    tmp_path: Path,
) -> None:
    config = read_log_config(write(tmp_path, "logging.yaml", YAML))
    assert isinstance(config.settings, dict)
    assert config.settings["loggers"]["pika"] == {
        "level": "ERROR", "handlers": ["file"], "propagate": False,
    }  # fmt: skip
    assert config.settings["disable_existing_loggers"] is False

    said = read_log_config(write(tmp_path, "b.yml", YAML + "disable_existing_loggers: true\n"))
    assert isinstance(said.settings, dict) and said.settings["disable_existing_loggers"] is True


def test_every_mistake_of_a_yaml_file_is_named_at_its_place(tmp_path: Path) -> None:
    text = (
        YAML.replace("formatter: json", "formatter: jsn")
        .replace("level: INFO", "level: info")
        .replace("handlers: [file], propagate", "handlers: [fil], propagate")
        .replace("formatters:", "formaters:")
    )
    path = write(tmp_path, "logging.yaml", text)

    assert problems(path) == [
        f"{path}:2:1: error: unknown key 'formaters': dictConfig ignores it; "
        "did you mean 'formatters'?",
        f"{path}:5:71: error: unknown formatter 'jsn'",
        f"{path}:7:19: error: unknown level 'info'; write it as 'INFO': level names are upper case",
        f"{path}:8:35: error: unknown handler 'fil'; did you mean 'file'?",
    ]


def test_a_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "logging.yaml", "version: 1\nloggers: {pika: [\n")

    (line,) = problems(path)
    assert line.startswith(f"{path}:3:1: error: ")


def test_a_json_file_is_read_and_its_mistakes_located(tmp_path: Path) -> None:
    good = '{"version": 1, "root": {"level": "WARNING"}}'
    assert read_log_config(write(tmp_path, "logging.json", good)).settings == {
        "version": 1, "root": {"level": "WARNING"}, "disable_existing_loggers": False,
    }  # fmt: skip
    bad = '{\n  "version": 2,\n  "root": {"level": "LOUD", "handlers": ["console"]}\n}\n'
    path = write(tmp_path, "bad.json", bad)

    assert problems(path) == [
        f"{path}:2:14: error: unsupported version 2; use 1",
        f"{path}:3:21: error: unknown level 'LOUD'; use one of DEBUG, INFO, WARNING, ERROR, "
        "CRITICAL",
        f"{path}:3:42: error: unknown handler 'console'",
    ]


def test_a_json_syntax_error_is_located_with_jsons_own_words(tmp_path: Path) -> None:
    path = write(tmp_path, "logging.json", '{"version": 1,\n "root": {level: 1}}')

    assert problems(path) == [
        f"{path}:2:11: error: not JSON: Expecting property name enclosed in double quotes"
    ]


def test_a_file_that_is_not_a_mapping_or_lacks_the_version_is_refused(tmp_path: Path) -> None:
    assert problems(write(tmp_path, "a.yaml", "- 1\n"))[0].endswith(
        "a dictConfig file holds one mapping: version: 1, handlers, loggers"
    )
    assert problems(write(tmp_path, "b.yaml", "root: {level: INFO}\n")) == [
        f"{tmp_path / 'b.yaml'}:1:1: error: 'version' is missing; dictConfig needs 'version: 1'"
    ]


def test_an_ini_file_reads_as_file_config_would_with_here_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, "logging.ini", INI.replace("(sys.stderr,)", "('%(here)s/w.log',)"))
    config = read_log_config(path)

    assert isinstance(config.settings, configparser.ConfigParser)
    assert config.settings.get("handler_console", "args") == f"('{tmp_path}/w.log',)"


def test_every_mistake_of_an_ini_file_is_named_at_its_line(tmp_path: Path) -> None:
    text = (
        INI.replace("keys = root, pika", "keys = root, pika, app")
        .replace("formatter = plain", "formatter = plane")
        .replace("level = ERROR", "level = error")
        .replace("qualname = pika\n", "")
    )
    path = write(tmp_path, "logging.ini", text)

    assert problems(path) == [
        f"{path}:2: error: [logger_app] is missing",
        f"{path}:14: error: [logger_pika] has no 'qualname'; give the logger's name, e.g. "
        "qualname = mqwire",
        f"{path}:15: error: unknown level 'error'; write it as 'ERROR': level names are upper case",
        f"{path}:21: error: unknown formatter 'plane': not in [formatters] keys; did you mean "
        "'plain'?",
    ]


def test_an_ini_file_without_the_logging_sections_says_which_are_missing(tmp_path: Path) -> None:
    path = write(tmp_path, "app.ini", "[app:main]\nuse = egg:app\n")

    assert problems(path) == [
        f"{path}: error: section [{name}] is missing; fileConfig needs [loggers], [handlers] "
        "and [formatters], each with keys ="
        for name in ("formatters", "handlers", "loggers")
    ]


def test_an_ini_syntax_error_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "logging.ini", INI.replace("[handler_console]\n", "[logger_root]\n"))

    assert problems(path) == [f"{path}:19: error: section [logger_root] is given twice"]


def test_an_unknown_extension_or_a_missing_file_is_refused(tmp_path: Path) -> None:
    assert problems(write(tmp_path, "logging.toml", "")) == [
        f"{tmp_path / 'logging.toml'}: error: unknown log configuration format '.toml'; name it "
        ".ini/.cfg/.conf (fileConfig), .json, .yaml or .yml (dictConfig)"
    ]
    assert problems(tmp_path / "nope.yaml") == [
        f"{tmp_path / 'nope.yaml'}: error: cannot read it: No such file or directory"
    ]


def test_a_paste_deploy_files_logging_sections_serve_as_they_do_for_pserve(
    tmp_path: Path,
) -> None:
    app = "[app:main]\nuse = egg:shop\nsqlalchemy.url = sqlite:///%(here)s/shop.db\n"
    app += "pyramid.includes =\n    pyramid_tm\n    mqwire.pyramid\n\n"
    path = write(tmp_path, "development.ini", app + INI)

    config = read_log_config(path)
    assert isinstance(config.settings, configparser.ConfigParser)
    assert config.settings.get("logger_pika", "qualname") == "pika"
