"""Archives and compressed files: read member by member, sources named archive!member, the format
chosen by the innermost suffix, and every member not read listed with the reason."""

import bz2
import gzip
import io
import json
import lzma
import tarfile
import zipfile

import pytest
import zstandard

from tokentrail.sources.files import LogReader
from tokentrail.sources.limits import ReadLimits

A = {"uuid": "a", "eventType": "user.session.start"}
B = {"uuid": "b", "eventType": "user.session.end"}
JSONL = (json.dumps(A) + "\n" + json.dumps(B) + "\n").encode()


def read(paths, **kw):
    reader = LogReader(**kw)
    return list(reader.records(paths)), reader.stats


def where(records):
    return [(r[0]["uuid"], r[1].rsplit("/", 1)[-1], r[2]) for r in records]


COMPRESSORS = {
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
    ".zst": lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_each_compression_of_json_lines(tmp_path, suffix):
    p = tmp_path / f"okta.jsonl{suffix}"
    p.write_bytes(COMPRESSORS[suffix](JSONL + b"{bad\n"))
    records, stats = read([tmp_path])
    assert where(records) == [("a", p.name, 1), ("b", p.name, 2)]
    assert str(stats.errors[0]).startswith(f"{p}:3: malformed JSON")


def test_compressed_json_document_is_chosen_by_the_inner_suffix(tmp_path):
    p = tmp_path / "page.json.zst"
    p.write_bytes(COMPRESSORS[".zst"](json.dumps({"records": [A, B]}, indent=2).encode()))
    records, _ = read([p])
    assert [r[0]["uuid"] for r in records] == ["a", "b"]


def _zip(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_zip_members_are_named_archive_bang_member(tmp_path):
    p = tmp_path / "export.zip"
    _zip(p, {"logs/okta.jsonl": JSONL + b"oops\n", "logs/page.json": json.dumps([B]),
             "elf.csv": '"EVENT_TYPE","USER_ID"\n"API","005a"\n', "README.txt": "not logs",
             "inner.jsonl.gz": gzip.compress(JSONL), "nested.zip": b"PK"})
    records, stats = read([p])
    assert [(r[0].get("uuid") or r[0]["USER_ID"], r[1].removeprefix(f"{tmp_path}/"), r[2]) for r in records] == [
        ("a", "export.zip!logs/okta.jsonl", 1), ("b", "export.zip!logs/okta.jsonl", 2),
        ("b", "export.zip!logs/page.json", 1), ("005a", "export.zip!elf.csv", 2),
        ("a", "export.zip!inner.jsonl.gz", 1), ("b", "export.zip!inner.jsonl.gz", 2)]
    assert str(stats.errors[0]).startswith(f"{p}!logs/okta.jsonl:3: malformed JSON")
    assert stats.skipped_files == [(f"{p}!README.txt", "not a log file"),
                                   (f"{p}!nested.zip", "an archive inside an archive: not read")]
    assert stats.files_skipped == 2 and stats.files == 4


def _tar(path, members, mode):
    with tarfile.open(path, mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("link.jsonl")
        link.type, link.linkname = tarfile.SYMTYPE, "a.jsonl"
        tf.addfile(link)


@pytest.mark.parametrize("name,mode", [("x.tar", "w"), ("x.tar.gz", "w:gz"), ("x.tgz", "w:gz"),
                                       ("x.tar.bz2", "w:bz2"), ("x.tar.xz", "w:xz")])
def test_tar_members_with_nested_compression(tmp_path, name, mode):
    p = tmp_path / name
    _tar(p, {"a.jsonl": JSONL, "b.jsonl.gz": gzip.compress(JSONL), "c.json.bz2": bz2.compress(json.dumps([A]).encode()),
             "notes.md": b"# notes"}, mode)
    records, stats = read([tmp_path])
    assert where(records) == [("a", f"{name}!a.jsonl", 1), ("b", f"{name}!a.jsonl", 2),
                              ("a", f"{name}!b.jsonl.gz", 1), ("b", f"{name}!b.jsonl.gz", 2),
                              ("a", f"{name}!c.json.bz2", 1)]
    assert stats.skipped_files == [(f"{p}!notes.md", "not a log file"),
                                   (f"{p}!link.jsonl", "not a regular file (symbolic link)")]
    assert stats.skipped == 0


def test_tar_under_zstd(tmp_path):
    raw = tmp_path / "x.tar"
    _tar(raw, {"a.jsonl": JSONL}, "w")
    p = tmp_path / "logs.tar.zst"
    p.write_bytes(COMPRESSORS[".zst"](raw.read_bytes()))
    records, _ = read([p])
    assert where(records) == [("a", "logs.tar.zst!a.jsonl", 1), ("b", "logs.tar.zst!a.jsonl", 2)]


def test_truncated_tar_gz_keeps_the_members_before_the_damage(tmp_path):
    raw = tmp_path / "x.tar"
    _tar(raw, {"a.jsonl": JSONL, "b.jsonl": b"".join(json.dumps(dict(A, n=i)).encode() + b"\n" for i in range(20000))}, "w")
    whole = gzip.compress(raw.read_bytes())
    p = tmp_path / "cut.tgz"
    p.write_bytes(whole[: len(whole) * 2 // 3])
    (tmp_path / "z.jsonl").write_bytes(JSONL)
    records, stats = read([p, tmp_path / "z.jsonl"])
    assert where(records)[:2] == [("a", "cut.tgz!a.jsonl", 1), ("b", "cut.tgz!a.jsonl", 2)]
    assert records[-1][1].endswith("z.jsonl")
    assert any(str(e).startswith(f"{p}") and "unreadable after" in str(e) for e in stats.errors)


def test_zip_member_past_the_expansion_limit_is_refused_and_the_next_read(tmp_path):
    p = tmp_path / "bomb.zip"
    _zip(p, {"big.jsonl": b"\n" * (4 << 20), "small.jsonl": JSONL})
    records, stats = read([p], limits=ReadLimits(max_expanded_bytes=1 << 20))
    assert where(records) == [("a", "bomb.zip!small.jsonl", 1), ("b", "bomb.zip!small.jsonl", 2)]
    assert "past the 1048576-byte limit" in str(stats.errors[0]) and str(stats.errors[0]).startswith(f"{p}!big.jsonl")


def test_damaged_zip_is_one_error(tmp_path):
    p = tmp_path / "bad.zip"
    p.write_bytes(b"PK\x03\x04 this is not really a zip")
    records, stats = read([p])
    assert records == [] and "unreadable after 0 events: BadZipFile" in str(stats.errors[0])
