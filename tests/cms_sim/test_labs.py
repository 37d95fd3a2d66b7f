"""The labs (labs/, ``cms-sim lab``): every one is right with its reference answer and wrong, with the fitting
hint, with wrong ones; the exercise and its answer agree; list, start and check behave as a class needs.

Answers run against the embedded CMTS under trio's autojump clock, so the
labs' timers (T0, T1, T7: seconds each) cost no real time.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from cms_sim.cli import main
from cms_sim.lab.catalog import LabError, all_labs, find, labs_folder
from cms_sim.lab.exercise import blank_of, blanks, code
from cms_sim.lab.grading import CHANGED, grade

LABS = all_labs()
ROOT = Path(__file__).resolve().parents[2]


def _swap(text: str, first: str, second: str) -> str:
    """``text`` with the steps named ``first`` and ``second`` (each a ``- name:`` line and what follows) swapped."""
    lines = text.splitlines(keepends=True)

    def block(name: str) -> tuple[int, int]:
        start = lines.index(f"  - name: {name}\n")
        end = start + 1
        while end < len(lines) and lines[end].startswith("    "):
            end += 1
        return start, end

    (a, b), (c, d) = sorted((block(first), block(second)))
    return "".join(lines[:a] + lines[c:d] + lines[b:c] + lines[a:b] + lines[d:])


def test_the_labs_go_from_the_first_call_to_timers_admission_and_errors():
    assert len(LABS) >= 6
    assert [lab.number for lab in LABS] == list(range(1, len(LABS) + 1))
    assert labs_folder() == ROOT / "labs"  # a checkout reads them where they are; a wheel carries them
    taught = " ".join(lab.settings.teaches for lab in LABS)
    for topic in ("Gate-Alloc", "T1", "T0", "error 4", "error 1", "error 2", "error 6", "Gate-Close"):
        assert topic in taught, topic


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.folder.name)
async def test_the_reference_answer_is_right(lab, autojump_clock):
    path = lab.folder / "answer.yaml"
    result = await grade(lab, path, path.read_text(encoding="utf-8"))
    assert result.right, result
    assert result.lines == (lab.settings.right,)


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.folder.name)
def test_the_answer_is_the_exercise_with_its_blanks_filled(lab):
    exercise, answer = lab.text("scenario.yaml"), lab.text("answer.yaml")
    holes = blanks(exercise)
    filled = [line for line in answer.splitlines() if blank_of(holes, line) is not None]
    assert len(filled) == len(holes) == len(lab.settings.blanks)
    assert not any("___" in code(line) for line in answer.splitlines())
    kept = [line for line in exercise.splitlines() if "___" not in code(line)]
    rest = [line for line in answer.splitlines() if blank_of(holes, line) is None]
    if lab.settings.order == "fixed":
        assert rest == kept
    else:  # the task is to order the steps: the same lines, moved
        assert Counter(rest) == Counter(kept) and rest != kept
    assert "___" in lab.text("task.md") and "cms-sim lab check" in lab.text("task.md")


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.folder.name)
async def test_the_exercise_as_given_is_not_yet_right_and_hints_at_its_first_blank(lab, autojump_clock):
    path = lab.folder / "scenario.yaml"
    result = await grade(lab, path, lab.text("scenario.yaml"))
    assert not result.right
    assert result.lines == tuple(f"{path}:{blank.line}: a blank (___) is still to fill"
                                 for blank in blanks(lab.text("scenario.yaml")))
    assert result.hint == lab.settings.blanks[0]


# (lab, the answer's text, what replaces it, in the hint, in what the check says went wrong)
WRONG = [
    (1, "save: {gate: gate_id}", "save: {gate: gate}", "Q1: the Ack's field", "cannot save 'gate'"),
    (1, "reply: {activity_count: 1}", "reply: {activity_count: 2}", "counts the gates the subscriber holds now",
     "activity_count is 1, expected 2"),
    (1, "event: gate_open", "event: gate_close", "Gate-Open is what the CMTS sends", "no Gate-Close for gate"),
    (1, "reason: client_initiated_release", "reason: timer_t1_expiration", "what happened just before",
     "with reason client_initiated_release (0), expected timer_t1_expiration (5)"),
    (1, "hold: 1s", "hold: 2s", CHANGED, "steps[5].hold: expected '1s', as the exercise has it"),
    (2, 'remote_ip: "${remote}", gate_id: "${first}"}', 'remote_ip: "${remote}", gate_id: "${second}"}',
     "Q1: the Gate-Set must name",
     "unknown variable ${second}"),
    (2, "reply: {activity_count: 2}", "reply: {activity_count: 3}", "Count the subscriber's gates",
     "activity_count is 2, expected 3"),
    (2, "{error: unknown_gate_id}", "{error: insufficient_resources}", "names a Gate-ID it does not have",
     "expected Gate-Set-Err insufficient_resources (1), got Gate-Set-Err: unknown gate id"),
    (2, "save: {second: gate_id}", "save: {second: transaction_id}", "look at what Q2 saved",
     "Gate-Delete-Err: unknown gate id"),
    (3, "wait: 3s", "wait: 1s", "the wait was shorter than T1", "no Gate-Close for gate"),
    (3, "reason: timer_t1_expiration", "reason: timer_t0_expiration", "names the timer that ran out",
     "with reason timer_t1_expiration (5), expected timer_t0_expiration (4)"),
    (3, "expect: refused", "expect: ok", "Expect refused", "the CMTS refused to reserve gate"),
    (4, "reason: client_initiated_release", "reason: timer_t1_expiration", "The commit stopped T1",
     "with reason client_initiated_release (0)"),
    (5, "{error: subscriber_exceeded_gate_limit}", "{error: insufficient_resources}", "the subscriber's own limit",
     "expected Gate-Set-Err insufficient_resources (1), got Gate-Set-Err: subscriber exceeded gate limit"),
    (5, "{error: insufficient_resources}", "{error: subscriber_exceeded_gate_limit}", "holds no gate",
     "got Gate-Set-Err: insufficient resources"),
    (5, "expect: refused", "expect: ok", "80 more does not fit", "no upstream capacity"),
    (5, "upstream_kbps: 100}", "upstream_kbps: 200}", CHANGED,
     "cmts.capacity.upstream_kbps: expected 100, as the exercise has it"),
    (6, "token_bucket_rate: 10000}", "token_bucket_rate: 8000}", "headers included",
     "token_bucket_rate is 10000, expected 8000"),
    (6, "expect: {error: unknown_gate_id}    # Q3", "expect: ack    # Q3", "removed the gate",
     "expected Gate-Delete-Ack, got Gate-Delete-Err: unknown gate id"),
    (6, "subcode: 0x0501", "subcode: 0x0005", "S-Num in the high byte", "sub-code 0x0005"),
    (7, "reason: timer_t0_expiration", "reason: timer_t7_expiration", "guards allocated gates",
     "with reason timer_t0_expiration (4), expected timer_t7_expiration (6)"),
    (7, "reason: timer_t7_expiration", "reason: timer_t1_expiration", "Which ran out first",
     "with reason timer_t7_expiration (6), expected timer_t1_expiration (5)"),
]

# Step order: (lab, the two steps swapped, in the hint, in what the check says)
MOVED = [
    (1, ("ask the CMTS for a Gate-ID", "authorize the media"), "not in the order the exercise gives them",
     "the steps are not in the exercise's order"),
    (4, ("the modem asks for its flows", "the modem activates its flows"), "reserve), then activates them",
     "AUTHORIZED, not RESERVED"),
    (4, ("the modem asks for its flows", "talk for longer than T1"), "The gate was gone before the commit",
     "the CMTS refused to commit gate"),
    (4, ("the modem asks for its flows", "the CMTS says the call is up"), "Gate-Open comes when the modem commits",
     "no Gate-Open for gate"),
]


def _case(number: int, answer: str, hint: str, said: str):
    return pytest.param(number, answer, hint, said, id=f"lab{number}-{said[:40]}")


@pytest.mark.parametrize(
    "number,answer,hint,said",
    [_case(number, find(number).text("answer.yaml").replace(old, new, 1), hint, said)
     for number, old, new, hint, said in WRONG]
    + [_case(number, _swap(find(number).text("answer.yaml"), *steps), hint, said)
       for number, steps, hint, said in MOVED])
async def test_a_wrong_answer_is_wrong_with_the_hint_that_fits(number, answer, hint, said, autojump_clock):
    lab = find(number)
    assert answer != lab.text("answer.yaml")
    result = await grade(lab, Path(f"lab{number}/scenario.yaml"), answer)
    assert not result.right
    assert said in "\n".join(result.lines), result.lines
    assert hint in (result.hint or ""), result.hint


def test_every_wrong_answer_changes_exactly_one_place_of_its_answer():
    for number, old, new, *_ in WRONG:
        assert find(number).text("answer.yaml").count(old) == 1, (number, old)


# --- the command line -------------------------------------------------------------------------------------------


def test_lab_list_shows_every_lab():
    result = CliRunner().invoke(main, ["lab", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for lab in LABS:
        assert f"│ {lab.number} │ {lab.title}" in result.output
    assert f"Reference answers and instructor notes: {labs_folder()}" in result.output


def test_a_session_start_wrong_hint_right(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    started = runner.invoke(main, ["lab", "start", "2"])
    assert started.exit_code == 0, started.output
    assert sorted(path.name for path in (tmp_path / "lab2").iterdir()) == ["scenario.yaml", "task.md"]
    again = runner.invoke(main, ["lab", "start", "2"])
    assert again.exit_code == 2
    assert again.output.splitlines() == ["cms-sim: lab2/scenario.yaml exists: not overwriting your work (check it "
                                         "with cms-sim lab check 2, or move it away to start again)"]
    blank = runner.invoke(main, ["lab", "check", "2"], env={"COLUMNS": "200"})
    assert blank.exit_code == 1
    assert "lab2/scenario.yaml:19: a blank (___) is still to fill" in blank.output and "Hint: Q1:" in blank.output
    answer = find(2).text("answer.yaml")
    (tmp_path / "lab2" / "scenario.yaml").write_text(answer.replace("activity_count: 2}", "activity_count: 1}"))
    wrong = runner.invoke(main, ["lab", "check", "2"], env={"COLUMNS": "200"})
    assert wrong.exit_code == 1
    assert "activity_count is 2, expected 1" in wrong.output and "Hint: Count the subscriber's gates" in wrong.output
    (tmp_path / "lab2" / "scenario.yaml").write_text(answer)
    right = runner.invoke(main, ["lab", "check", "2"], env={"COLUMNS": "200"})
    assert right.exit_code == 0, right.output
    assert right.output.startswith("✓ Right. Two gates, two ways")


@pytest.mark.parametrize("args,message", [
    (["lab", "check", "99"], "cms-sim: no lab 99; the labs are 1, 2, 3, 4, 5, 6, 7 (cms-sim lab list)"),
    (["lab", "check", "2", "nowhere.yaml"], "cms-sim: nowhere.yaml: no such file"),
    (["lab", "check", "2"], "cms-sim: lab2/scenario.yaml: no such file; cms-sim lab start 2 makes it"),
    (["lab", "start", "0"], "cms-sim: no lab 0; the labs are 1, 2, 3, 4, 5, 6, 7 (cms-sim lab list)"),
], ids=["no-lab", "no-file", "not-started", "start-no-lab"])
def test_usage_errors_are_one_line_and_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.output.splitlines() == [message]


# --- a broken lab -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("edit,expected", [
    (lambda text: text.replace("minutes: 20", "minutes: soon"),
     "lab.yaml:3: minutes: input should be a valid integer, unable to parse string as an integer (got 'soon')"),
    (lambda text: text + "colour: blue\n", "lab.yaml:44: colour: unknown key"),
    (lambda text: text.replace("blanks:\n  - >-", "blanks:\n  - one hint too many\n  - >-"),
     "lab.yaml:4: blanks: 5 hint(s), but scenario.yaml has 4 line(s) with a blank (___); expected one hint per line"),
], ids=["bad-value", "unknown-key", "hint-count"])
def test_a_broken_lab_is_one_line_naming_file_line_and_field(tmp_path, edit, expected):
    folder = tmp_path / "02-alloc-or-set"
    shutil.copytree(find(2).folder, folder)
    settings = folder / "lab.yaml"
    settings.write_text(edit(settings.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(LabError) as raised:
        all_labs(tmp_path)
    assert raised.value.lines == [f"{settings}{expected.removeprefix('lab.yaml')}"]
