"""``cmts-sim``: settings from a file and flags, one-line errors, the shipped example config."""

from pathlib import Path

from click.testing import CliRunner

from cmts_sim.cli import build_config, main
from cmts_sim.config import CmtsConfig

EXAMPLE = Path(__file__).parents[2] / "examples" / "cmts.yaml"


def test_the_example_config_loads_and_documents_every_setting():
    config = build_config(str(EXAMPLE), (), (), {})
    assert config.cmts_id == "LAB-CMTS-1"
    text = EXAMPLE.read_text()
    defaults = CmtsConfig().model_dump()
    for section, value in defaults.items():
        assert f"{section}:" in text, section
        if isinstance(value, dict):
            for key in value:
                assert f"  {key}:" in text, f"{section}.{key}"


def test_flags_win_over_the_file():
    config = build_config(str(EXAMPLE), ("127.0.0.1:0",), (), {"t1": 12.5, "modem": "driven",
                                                             "fault_reject_share": 0.5})
    assert config.timers.t1 == 12.5
    assert config.modem.mode == "driven"
    assert config.listen == ["127.0.0.1:0"]
    assert config.faults.reject_gate_set.share == 0.5 and config.faults.reject_gate_set.code == 1


def test_metrics_port_and_receive_buffer_come_from_flags_or_the_file(tmp_path):
    assert build_config(None, (), (), {"metrics_port": 9126}).metrics_port == 9126
    settings = tmp_path / "cmts.yaml"
    settings.write_text("metrics_port: 9127\nreceive_buffer: null\n")
    config = build_config(str(settings), (), (), {})
    assert (config.metrics_port, config.receive_buffer) == (9127, None)
    assert build_config(str(EXAMPLE), (), (), {}).metrics_port is None


def test_connect_alone_means_no_listener():
    config = build_config(None, (), ("127.0.0.1:3288",), {})
    assert config.connect == ["127.0.0.1:3288"] and config.listen == []


def test_a_bad_config_file_gets_one_line_per_problem_and_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("cmts_id: X\ntimers:\n  t1: soon\nmodem:\n  mode: sometimes\nbogus: 1\n")
    result = CliRunner().invoke(main, ["serve", "--config", str(bad)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(f"cmts-sim: {bad}:3: timers.t1: ")
    assert any(line.startswith(f"cmts-sim: {bad}:5: modem.mode: ") and "'auto'" in line for line in lines)
    assert any(line == f"cmts-sim: {bad}:6: bogus: unknown key" for line in lines)
    assert "Traceback" not in result.output


def test_a_yaml_syntax_error_names_the_line(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("timers:\n  t1: [1, 2\nmodem: {}\n")
    result = CliRunner().invoke(main, ["serve", "--config", str(bad)])
    assert result.exit_code == 2
    assert result.output.startswith(f"cmts-sim: {bad}:")
    assert "YAML syntax" in result.output


def test_version_and_help_show_examples():
    runner = CliRunner()
    assert "cmts-sim, version" in runner.invoke(main, ["--version"]).output
    assert "cmts-sim serve --listen 0.0.0.0:2126" in runner.invoke(main, ["serve", "--help"]).output


def test_a_bad_delay_gets_one_line_not_one_per_form_it_could_take(tmp_path):
    bad = tmp_path / "delay.yaml"
    bad.write_text("faults:\n  reply_delay: {fixed: -1}\n")
    result = CliRunner().invoke(main, ["serve", "--config", str(bad)])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"cmts-sim: {bad}:2: faults.reply_delay: expected seconds (>= 0), or {{fixed: S}}, {{uniform: [LOW, HIGH]}}, "
        "{exponential: MEAN}, got {'fixed': -1}"]


def test_integrity_comes_from_the_file_with_the_flags_on_top(tmp_path):
    settings = tmp_path / "cmts.yaml"
    settings.write_text('integrity:\n  keys: ["1:aa"]\n  required: true\n')
    config = build_config(str(settings), (), (), {"integrity_algorithm": "hmac-sha256-128"}, (), ("2:bb",))
    integrity = config.integrity.to_settings()
    assert [(key.key_id, key.secret) for key in integrity.keys] == [(2, b"\xbb")]  # the flag's keys replace the file's
    assert (integrity.algorithm, integrity.required) == ("hmac-sha256-128", True)
    assert build_config(None, (), (), {}).integrity is None  # no key, no integrity


def test_a_key_file_holds_keyid_hex_lines_with_comments(tmp_path):
    from cmts_sim.integrity_cli import read_keys

    keys = tmp_path / "lab.keys"
    keys.write_text("# rotated monthly\n1:00112233\n\n2:aabbccdd  # next month's\n")
    assert read_keys(None, None, (f"@{keys}", "3:ff")) == ("1:00112233", "2:aabbccdd", "3:ff")
