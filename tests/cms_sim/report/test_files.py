"""Output files: whole or absent, and unwritable places found before a run starts."""

import pytest

from cms_sim.report.files import atomic_path, check_writable, write_atomically


def test_files_are_replaced_whole_and_unwritable_places_are_found_before_the_run(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    write_atomically(str(target), "new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["r.json"]
    assert check_writable(str(tmp_path / "absent" / "r.json")).startswith("no folder")
    assert check_writable(str(tmp_path)) == "is a folder"
    assert check_writable(str(tmp_path / "fine.json")) is None


def test_a_writer_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "r.pcap"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            open(temporary, "wb").write(b"half")
            raise RuntimeError("the run died")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["r.pcap"]
