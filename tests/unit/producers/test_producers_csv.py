"""CSV sources: both layouts, sniffing, and every kind of bad input (file:line, reason)."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.producers.errors import BadRowError, SourceError
from fraudstream.producers.sources import EXTENDED_COLUMNS, KAGGLE_COLUMNS, BadRow, CsvSource

V = [f"V{i}" for i in range(1, 29)]


def kaggle_row(time: float = 0.0, v: float = 0.5, amount: float = 12.5, cls: str = '"0"') -> str:
    return ",".join([repr(time)] + [repr(v + i / 100) for i in range(28)] + [repr(amount), cls])


def extended_row(rid: int = 1, user: str = "Kai", cls: str = '"0"') -> str:
    return f'{rid},"2018-12-18T12:00:00Z","{user}",' + kaggle_row(cls=cls)


def read(path, **kw) -> tuple[CsvSource, list, list[BadRow]]:
    bad: list[BadRow] = []
    src = CsvSource(path, on_bad_row=bad.append, **kw)
    batches = list(src.batches())
    return src, batches, bad


def stacked(batches):
    return (np.concatenate([b.features for b in batches]),
            np.concatenate([b.labels for b in batches]))


# -- layouts ------------------------------------------------------------------------------

def test_kaggle_layout_with_quoted_header_and_labels(tmp_path):
    # Kaggle's creditcard.csv quotes the header names and the Class values.
    header = ",".join(f'"{c}"' for c in KAGGLE_COLUMNS)
    rows = [kaggle_row(0.0, cls='"0"'), kaggle_row(406.0, v=-2.25, amount=0.0, cls='"1"')]
    path = tmp_path / "creditcard.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    src, batches, bad = read(path)
    feats, labels = stacked(batches)
    assert src.layout == "kaggle" and src.header_lines == 1
    assert bad == []
    assert labels.tolist() == [0, 1]
    assert feats.shape == (2, 30)
    assert feats[1, 0] == 406.0 and feats[1, 1] == -2.25 and feats[1, -1] == 0.0
    assert batches[0].ids is None  # Ids are assigned by the producer for this layout


def test_kaggle_layout_unquoted_header_crlf_and_bom(tmp_path):
    path = tmp_path / "c.csv"
    body = ",".join(KAGGLE_COLUMNS) + "\r\n" + kaggle_row(cls="1") + "\r\n" + kaggle_row(cls="0") + "\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    src, batches, bad = read(path)
    assert src.layout == "kaggle" and bad == []
    assert stacked(batches)[1].tolist() == [1, 0]


def test_extended_layout_without_header_keeps_id_timestamp_user(tmp_path):
    path = tmp_path / "ext.csv"
    path.write_text("\n".join([extended_row(7, "Kai"), extended_row(8, "Hans", cls=""),
                               extended_row(9, 'Fl"o', cls='"1"').replace('"Fl"o"', '"Fl""o"')]) + "\n")
    src, batches, bad = read(path)
    assert src.layout == "extended" and src.header_lines == 0 and bad == []
    (b,) = batches
    assert b.ids.tolist() == [7, 8, 9]
    assert b.users.tolist() == ["Kai", "Hans", 'Fl"o']
    assert b.timestamps.tolist() == ["2018-12-18T12:00:00Z"] * 3
    assert b.labels.tolist() == [0, -1, 1]  # an empty Class is an unlabelled event


def test_extended_layout_with_header(tmp_path):
    path = tmp_path / "ext.csv"
    path.write_text(",".join(EXTENDED_COLUMNS) + "\n" + extended_row(1) + "\n")
    src, batches, _ = read(path)
    assert src.layout == "extended" and src.header_lines == 1
    assert batches[0].ids.tolist() == [1]


def test_kaggle_rows_without_header_are_recognised(tmp_path):
    path = tmp_path / "noheader.csv"
    path.write_text(kaggle_row() + "\n" + kaggle_row() + "\n")
    src, batches, _ = read(path)
    assert src.layout == "kaggle" and src.header_lines == 0
    assert sum(len(b) for b in batches) == 2


def test_blank_lines_are_not_records_and_line_numbers_stay_right(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text(",".join(KAGGLE_COLUMNS) + "\n\n" + kaggle_row() + "\n\n" + "x,y\n")
    src, batches, bad = read(path)
    assert sum(len(b) for b in batches) == 1
    assert [(b.line, b.reason.split(":")[0]) for b in bad] == [(5, "wrong column count")]


# -- the shared samples, read in place -------------------------------------------------

def test_shared_kaggle_sample(shared_data):
    src, batches, bad = read(shared_data / "creditcard_sample.csv")
    feats, labels = stacked(batches)
    assert src.layout == "kaggle" and bad == []
    assert len(labels) == 5412 and int(labels.sum()) == 492  # README: all frauds + 4920 normals
    assert np.isfinite(feats).all()


def test_shared_extended_sample(shared_data):
    src, batches, bad = read(shared_data / "creditcard_extended.csv")
    (b,) = batches
    assert src.layout == "extended" and bad == []
    assert b.ids.tolist() == list(range(1, 11))
    assert b.labels.tolist().count(-1) == 1 and b.labels.tolist().count(1) == 2
    assert b.users[0] == "Kai" and b.timestamps[0] == "2018-12-18T12:00:00Z"
    assert b.features[0, -1] == 149.62


def test_shared_small_sample_with_quoted_header(shared_data):
    src, batches, bad = read(shared_data / "creditcard_small.csv")
    _, labels = stacked(batches)
    assert src.layout == "kaggle" and bad == []
    assert len(labels) == 999 and int(labels.sum()) == 15


# -- bad rows ---------------------------------------------------------------------------

def bad_file(tmp_path):
    good = kaggle_row()
    fields = good.split(",")
    lines = [
        ",".join(KAGGLE_COLUMNS),                         # 1 header
        good,                                             # 2 ok
        ",".join(fields[:-1]),                            # 3 too few columns
        good + ",7",                                      # 4 too many columns
        ",".join(fields[:3] + ["abc"] + fields[4:]),      # 5 non-numeric V3
        ",".join(fields[:3] + [""] + fields[4:]),         # 6 empty V3
        ",".join(fields[:-1] + ['"2"']),                  # 7 label out of range
        ",".join(fields[:5] + ["inf"] + fields[6:]),      # 8 non-finite V5
        good,                                             # 9 ok
    ]
    path = tmp_path / "bad.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe,1\n")  # 10 not UTF-8
    return path


def test_each_bad_row_is_skipped_reported_with_line_and_reason(tmp_path):
    path = bad_file(tmp_path)
    src, batches, bad = read(path)
    assert sum(len(b) for b in batches) == 2
    assert src.bad_rows == len(bad) == 7
    got = {b.line: b.reason for b in bad}
    assert "wrong column count: expected 31" in got[3] and "found 30" in got[3]
    assert "found 32" in got[4]
    assert got[5] == "column V3: not a number: 'abc'"
    assert got[6] == "column V3: empty value"
    assert got[7] == "column Class: expected 0, 1 or empty, found '2'"
    assert got[8] == "column V5: not a finite number: 'inf'"
    assert got[10].startswith("not UTF-8 text")
    assert all(b.where == f"{path}:{b.line}" for b in bad)
    assert bad[0].raw == b",".join(kaggle_row().encode().split(b",")[:-1])  # kept for the DLQ


def test_bad_id_in_extended_layout(tmp_path):
    path = tmp_path / "ext.csv"
    path.write_text(extended_row(1) + "\n" + extended_row(2).replace("2,", "two,", 1) + "\n")
    _, batches, bad = read(path)
    assert sum(len(b) for b in batches) == 1
    assert [(b.line, b.reason) for b in bad] == [(2, "column Id: not an integer: 'two'")]


def test_strict_stops_at_the_first_bad_row(tmp_path):
    path = bad_file(tmp_path)
    src = CsvSource(path, strict=True)
    with pytest.raises(BadRowError) as info:
        list(src.batches())
    assert info.value.line == 3
    assert str(info.value).startswith(f"{path}:3: wrong column count")
    assert info.value.exit_code != 0


def test_bad_rows_after_the_first_chunk_keep_their_line_numbers(tmp_path):
    rows = [kaggle_row(float(i)) for i in range(50)]
    rows[36] = "1,2,3"  # file line 38 (after the header)
    path = tmp_path / "chunks.csv"
    path.write_text(",".join(KAGGLE_COLUMNS) + "\n" + "\n".join(rows) + "\n")
    _, batches, bad = read(path, chunk_lines=8)
    feats, _ = stacked(batches)
    assert [b.line for b in bad] == [38]
    assert len(feats) == 49
    assert feats[:, 0].tolist() == [float(i) for i in range(50) if i != 36]  # order kept


@pytest.mark.parametrize("content, message", [
    (b"", "empty file"),
    (b"\n\n  \n", "empty file"),
    (",".join(KAGGLE_COLUMNS).encode() + b"\n", "no transactions in the file"),
    (b"a,b,c\n1,2,3\n", "unknown layout"),
    (b"\x00\x01\x02binary\x00\r\x00", "unknown layout"),
])
def test_files_that_cannot_be_used_at_all(tmp_path, content, message):
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    with pytest.raises(SourceError) as info:
        list(CsvSource(path).batches())
    assert message in str(info.value) and str(path) in str(info.value)


def test_unreadable_paths(tmp_path):
    with pytest.raises(SourceError, match="cannot read: No such file"):
        CsvSource(tmp_path / "missing.csv")
    with pytest.raises(SourceError, match="cannot read: Is a directory"):
        CsvSource(tmp_path)
