"""kerasreg/_io.py: atomic JSON, CSV and figure writing."""

import csv

import pytest

from kerasreg import _io


def test_csv_quotes_fields_and_unions_columns(tmp_path):
    path = tmp_path / "rows.csv"
    _io.write_csv(path, [{"a": 1, "b": "x,y"}, {"a": 2, "c": 'say "hi"'}])
    rows = list(csv.DictReader(path.open()))
    assert rows == [
        {"a": "1", "b": "x,y", "c": ""},
        {"a": "2", "b": "", "c": 'say "hi"'},
    ]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "metrics.json"
    _io.write_json(path, {"ok": 1})
    with pytest.raises(TypeError):
        _io.write_json(path, {"bad": object()})
    assert path.read_text() == '{\n  "ok": 1\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_save_figure_writes_a_png_atomically_and_closes_it(tmp_path):
    plt = _io.pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    _io.save_figure(fig, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"
    assert not plt.fignum_exists(fig.number)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png"]
    fig2, _ = plt.subplots()
    assert _io.figure_png(fig2)[:4] == b"\x89PNG"


def test_check_writable_names_the_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError, match="Cannot create the output directory out="):
        _io.check_writable(blocker / "sub")
