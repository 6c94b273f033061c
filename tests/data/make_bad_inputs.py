"""Generate the bad-input corpus in tests/data/bad_inputs/ (deterministic; the output is committed).

    .venv/bin/python tests/data/make_bad_inputs.py            # rewrite tests/data/bad_inputs/
    .venv/bin/python tests/data/make_bad_inputs.py --out DIR  # somewhere else

Every case is a small file written by this script: hostile catalogs (encodings, parser limits,
number hygiene, ids, quoting, paths), hostile images (bombs by header, truncations, wrong formats)
and hostile image tars (traversal, absolute names, links, devices, truncation). `manifest.json`
says, per ingest run, what must happen: a clear BadInput for a wholly unusable file, else which
ids are stored, which rows are reported, which images land. Things git cannot hold (symlinks that
leave the folder, symlink loops, a FIFO) are made at test time by `make_runtime_specials`.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import gzip
import io
import json
import os
import random
import shutil
import struct
import tarfile
import zlib
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "bad_inputs"
MTIME = 1_700_000_000  # fixed tar timestamps: reruns write identical bytes

GOOD = [{"id": "good1", "title": "White cotton T-shirt", "price": "99"},
        {"id": "good2", "title": "纯棉连衣裙", "price": "199.5"}]


class Corpus:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs: list[dict] = []

    def write(self, rel: str, data: bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def run(self, name: str, catalog: str, *, expect: str = "ok", images: str | None = None, stored=(), not_stored=(),
            reported=(), with_image=(), without_image=(), titles: dict | None = None, why: str = "") -> None:
        self.runs.append({"name": name, "catalog": catalog, "images": images, "expect": expect, "stored": list(stored),
                          "not_stored": list(not_stored), "reported": list(reported), "with_image": list(with_image),
                          "without_image": list(without_image), "titles": titles or {}, "why": why})


def _csv_text(rows: list[dict], fields: list[str] | None = None, delimiter: str = ",") -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields or list(rows[0]), delimiter=delimiter, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _jpeg(color=(200, 30, 30), size=(12, 12), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color if mode == "RGB" else 0).save(buf, "JPEG")
    return buf.getvalue()


def _png(size=(10, 10), mode="RGB", **params) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, "PNG", **params)
    return buf.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png_header_bomb(w: int, h: int) -> bytes:
    """A valid PNG signature + IHDR claiming w×h pixels, with a tiny IDAT: decoding would allocate gigabytes."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b"")


def _png_ztxt_bomb() -> bytes:
    """A small good PNG carrying a zTXt chunk that inflates to 64 MB."""
    base = _png((8, 8))
    body = b"Comment\0\0" + zlib.compress(b"A" * (64 << 20), 9)
    return base[:-12] + _png_chunk(b"zTXt", body) + base[-12:]


def _gif_header_bomb() -> bytes:
    screen = struct.pack("<HHBBB", 65535, 65535, 0, 0, 0)
    image = b"," + struct.pack("<HHHHB", 0, 0, 65535, 65535, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + image + b";"


def _jpeg_header_bomb() -> bytes:
    data = bytearray(_jpeg(size=(8, 8)))
    i = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, i + 5, 65500, 65500)  # SOF0 height, width
    return bytes(data)


def _bmp_header_bomb() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "BMP")
    data = bytearray(buf.getvalue())
    struct.pack_into("<ii", data, 18, 50000, 50000)
    return bytes(data)


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            info.mtime = MTIME
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _member(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name: str, target: str, kind=tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


# ------------------------------------------------------------------------------------------------
def catalogs(c: Corpus) -> None:
    ids = ["good1", "good2"]
    zh = [{"id": "zh1", "title": "纯棉白色连衣裙", "price": "199", "description": "夏季新款，透气舒适"},
          {"id": "zh2", "title": "男士牛仔外套", "price": "299", "description": "水洗工艺"}]
    for name, codec, label in (("gb18030", "gb18030", "gb18030"), ("gbk", "gbk", "GBK bytes read as gb18030"),
                               ("utf8_bom", "utf-8-sig", "UTF-8 with BOM"), ("utf16le_bom", "utf-16", "UTF-16 with BOM"),
                               ("utf16be_bom", None, "UTF-16-BE with BOM")):
        text = _csv_text(zh)
        data = codecs.BOM_UTF16_BE + text.encode("utf-16-be") if codec is None else text.encode(codec)
        c.write(f"catalogs/enc_{name}.csv", data)
        c.run(f"enc_{name}", f"catalogs/enc_{name}.csv", stored=["zh1", "zh2"],
              titles={"zh1": "纯棉白色连衣裙", "zh2": "男士牛仔外套"}, why=f"{label}: Chinese text must come back intact")
    c.write("catalogs/enc_gb18030.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in zh).encode("gb18030") + b"\n")
    c.run("enc_gb18030_jsonl", "catalogs/enc_gb18030.jsonl", stored=["zh1", "zh2"], titles={"zh1": "纯棉白色连衣裙"})
    c.write("catalogs/enc_utf16.jsonl", ("\n".join(json.dumps(r, ensure_ascii=False) for r in zh) + "\n").encode("utf-16"))
    c.run("enc_utf16_jsonl", "catalogs/enc_utf16.jsonl", stored=["zh1", "zh2"], titles={"zh2": "男士牛仔外套"})
    latin = "id,title,price\ngood1,Plain shirt,10\nlat1,Caf\xe9 au lait mug,12\nlat2,Cr\xe8me, brûlée,3\ngood2,Blue cap,5\n"
    c.write("catalogs/enc_latin1.csv", latin.encode("latin-1"))
    c.run("enc_latin1", "catalogs/enc_latin1.csv", stored=ids, reported=["lat1", "lat2"], not_stored=["lat1", "lat2"],
          why="Latin-1 bytes are valid in neither UTF-8 nor GB18030: those rows are reported, not stored as mojibake")
    c.write("catalogs/enc_invalid_bytes.csv", b"id,title\ngood1,Shirt\nbad1,Broken \xff\xfe\xfa title\ngood2,Hat\n")
    c.run("enc_invalid_bytes", "catalogs/enc_invalid_bytes.csv", stored=ids, reported=["bad1"], not_stored=["bad1"])
    mixed = "id,title\ngood1,白色T恤\n".encode() + "gbk1,红色裙子\n".encode("gbk") + "good2,黑色帽子\n".encode() \
        + "good3,蓝色围巾\n".encode()
    c.write("catalogs/enc_mixed_utf8_gbk.csv", mixed)
    c.run("enc_mixed_utf8_gbk", "catalogs/enc_mixed_utf8_gbk.csv", stored=["good1", "good2", "good3"], reported=["gbk1"],
          titles={"good1": "白色T恤"}, why="one GBK line in a UTF-8 file is reported, the UTF-8 rows are kept")

    # Wholly unusable files: a clear BadInput, nothing stored.
    for name, data, why in (
        ("empty.csv", b"", "empty file"), ("bom_only.csv", codecs.BOM_UTF8, "BOM and nothing else"),
        ("whitespace_only.jsonl", b"\n   \n\t\n", "blank lines only"), ("empty.jsonl", b"", "empty JSONL"),
        ("binary_garbage.csv", bytes(random.Random(1).randrange(256) for _ in range(2048)) + b"\0" * 2048, "random bytes"),
        ("png_named.csv", _png((16, 16)) + b"\0" * 1024, "a PNG renamed .csv"),
        ("gzipped.csv", gzip.compress(_csv_text(GOOD).encode() * 40, mtime=0) + b"\0" * 600, "a gzip stream named .csv"),
        ("duplicate_header.csv", b"id,title,title\n1,a,b\n", "two columns with one name"),
        ("wide_10k_columns.csv", (",".join(["id", "title"] + [f"c{i}" for i in range(10_000)]) + "\n1,t\n").encode(), "10,000 columns"),
        ("catalog.xlsx", b"PK\x03\x04 not really a spreadsheet", "unsupported extension"),
        ("truncated_array.json", b'[{"id": "a", "title": "x"}, {"id": "b", "ti', "a JSON array cut short"),
    ):
        c.write(f"catalogs/{name}", data)
        c.run(name.replace(".", "_"), f"catalogs/{name}", expect="bad_file", why=why)

    c.write("catalogs/header_only.csv", b"id,title,price\n")
    c.run("header_only", "catalogs/header_only.csv", why="a header and no rows: nothing to do, no error")
    c.write("catalogs/no_id_column.csv", b"sku_code,title\nA1,Shirt\nA2,Hat\n")
    c.run("no_id_column", "catalogs/no_id_column.csv", expect="bad_file", why="no id column: BadInput naming --map id=COLUMN")
    c.write("catalogs/semicolon_delimited.csv", b"id;title;price\n1;Shirt;10\n2;Hat;5\n")
    c.run("semicolon_delimited", "catalogs/semicolon_delimited.csv", expect="bad_file", why="BadInput that says it looks semicolon-separated")
    c.write("catalogs/ids_in_rows_without_id.csv", b"id,title\ngood1,Shirt\n,No id here\ngood2,Cap\n")
    c.run("ids_in_rows_without_id", "catalogs/ids_in_rows_without_id.csv", stored=ids, reported=["line 3"])
    c.write("catalogs/duplicate_ids.csv", _csv_text(GOOD + [{"id": "good1", "title": "second copy", "price": "1"}]).encode())
    c.run("duplicate_ids", "catalogs/duplicate_ids.csv", stored=ids, reported=["good1"], titles={"good1": "White cotton T-shirt"})
    big = _csv_text(GOOD[:1] + [{"id": "huge", "title": "one megabyte", "price": "1", "description": "x" * 1_000_000}] + GOOD[1:],
                    ["id", "title", "price", "description"])
    c.write("catalogs/field_1mb.csv", big.encode())
    c.run("field_1mb", "catalogs/field_1mb.csv", stored=ids, reported=["huge"], not_stored=["huge"], why="_csv.Error before")
    c.write("catalogs/long_title.csv", _csv_text(GOOD + [{"id": "lt", "title": "L" * 66_000, "price": "1"}]).encode())
    c.run("long_title", "catalogs/long_title.csv", stored=ids, reported=["lt"], not_stored=["lt"])
    c.write("catalogs/unclosed_quote.csv", b'id,title,price\ngood1,Shirt,10\nq1,"Red dress,99\nq2,Blue shirt,88\nq3,Green hat,77\n'
                                           b'q4,Black belt,66\n')
    c.run("unclosed_quote", "catalogs/unclosed_quote.csv", stored=["good1", "q2", "q3"], reported=["q1", "q4"],
          not_stored=["q1"], why="the runaway field is reported; the rows it swallowed are recovered or reported")
    c.write("catalogs/unclosed_quote_closed_later.csv",
            b'id,title,price\nq1,"Red dress,99\nq2,Blue shirt,88\nq3,"Green" hat,77\ngood2,Cap,5\n')
    c.run("unclosed_quote_closed_later", "catalogs/unclosed_quote_closed_later.csv", stored=["q2", "good2"], reported=["q1", "q3"],
          not_stored=["q1"])
    c.write("catalogs/extra_cells.csv", b"id,title,price\ngood1,Shirt,10\nx1,Hat,5,surprise,more\ngood2,Cap,3\n")
    c.run("extra_cells", "catalogs/extra_cells.csv", stored=ids, reported=["x1"], not_stored=["x1"])
    c.write("catalogs/short_rows.csv", b"id,title,price\ngood1,Shirt\nnotitle\ngood2,Cap,3\n")
    c.run("short_rows", "catalogs/short_rows.csv", stored=ids, reported=["notitle"], not_stored=["notitle"])
    c.write("catalogs/control_chars.csv", b"id,title,price\ngood1,Bell\x07 shirt\x1b[31m,10\nc\x01tl,Bad id,1\ngood2,Cap\x00,3\n")
    c.run("control_chars", "catalogs/control_chars.csv", stored=ids, reported=["line 3"], titles={"good1": "Bell shirt[31m"},
          why="control characters are stripped from text; an id holding one is rejected")
    c.write("catalogs/newline_in_id.csv", b'id,title\ngood1,Shirt\n"n\nl",Hat\ngood2,Cap\n')
    c.run("newline_in_id", "catalogs/newline_in_id.csv", stored=ids, reported=["line 3"])
    c.write("catalogs/csv_injection.csv", _csv_text([
        {"id": "good1", "title": "=HYPERLINK(\"http://evil.example\",\"click\")", "price": "10"},
        {"id": "good2", "title": "+cmd|' /C calc'!A0", "price": "3"},
        {"id": "inj3", "title": "@SUM(1+1)", "price": "-2+3"}]).encode())
    c.run("csv_injection", "catalogs/csv_injection.csv", stored=ids, reported=["inj3"], titles={"good2": "+cmd|' /C calc'!A0"},
          why="formula-looking cells are data, stored verbatim; an arithmetic price is rejected")
    c.write("catalogs/crlf.csv", _csv_text(GOOD).replace("\n", "\r\n").encode())
    c.run("crlf", "catalogs/crlf.csv", stored=ids)
    c.write("catalogs/cr_only.csv", _csv_text(GOOD).replace("\n", "\r").encode())
    c.run("cr_only", "catalogs/cr_only.csv", stored=ids)
    c.write("catalogs/blank_lines.csv", _csv_text(GOOD).replace("\n", "\n\n\n").encode())
    c.run("blank_lines", "catalogs/blank_lines.csv", stored=ids)
    c.write("catalogs/whitespace_ids.csv", b"id,title\n  good1  ,Shirt\n   ,No id\ngood2,Cap\n")
    c.run("whitespace_ids", "catalogs/whitespace_ids.csv", stored=ids, reported=["line 3"])
    c.write("catalogs/bad_ids.csv", _csv_text(GOOD + [{"id": "../../etc/passwd", "title": "x", "price": "1"},
                                                      {"id": "a\\b", "title": "x", "price": "1"},
                                                      {"id": "i" * 300, "title": "x", "price": "1"}]).encode())
    c.run("bad_ids", "catalogs/bad_ids.csv", stored=ids, reported=["line 4", "line 5", "line 6"])
    c.write("catalogs/missing_titles.csv", b"id,title\ngood1,Shirt\nt1,\nt2,   \ngood2,Cap\n")
    c.run("missing_titles", "catalogs/missing_titles.csv", stored=ids, reported=["t1", "t2"], not_stored=["t1", "t2"])
    c.write("catalogs/unicode_tricks.csv", "id,title\ngood1,\u202eevil\u202c shirt\ngood2,zero\u200bwidth cap\n".encode())
    c.run("unicode_tricks", "catalogs/unicode_tricks.csv", stored=ids)
    c.write("catalogs/nul_bytes.csv", b"id,title\ngood1,Shirt\nnul1,Bad\x00\x00\x00title\ngood2,Cap\n")
    c.run("nul_bytes", "catalogs/nul_bytes.csv", stored=["good1", "good2", "nul1"], titles={"nul1": "Badtitle"})
    c.write("catalogs/mixed.tsv", b"id\ttitle\tprice\ngood1\tShirt\t10\nbadp\tHat\tcheap\ngood2\tCap\t3\n")
    c.run("mixed_tsv", "catalogs/mixed.tsv", stored=ids, reported=["badp"], not_stored=["badp"])

    prices = {"inf": "inf", "neg_inf": "-inf", "nan": "nan", "1e309": "1e309", "infinity_word": "Infinity",
              "5000_digits": "9" * 5000, "negative": "-5", "text": "九十九", "hex": "0x1F", "empty_currency": "¥"}
    for name, value in prices.items():
        c.write(f"catalogs/price_{name}.csv", _csv_text(GOOD + [{"id": "badprice", "title": "x", "price": value}]).encode())
        c.run(f"price_{name}", f"catalogs/price_{name}.csv", stored=ids, reported=["badprice"], not_stored=["badprice"])

    def jl(rows: list) -> bytes:
        return ("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n").encode()

    g1, g2 = json.dumps(GOOD[0], ensure_ascii=False), json.dumps(GOOD[1], ensure_ascii=False)
    c.write("catalogs/deep_array.jsonl", jl([g1, '{"id": "deep", "title": "x", "n": ' + "[" * 20_000 + "]" * 20_000 + "}", g2]))
    c.run("deep_array", "catalogs/deep_array.jsonl", stored=ids, reported=["line 2"], why="RecursionError before")
    c.write("catalogs/deep_object.jsonl", jl([g1, '{"id": "deep", "title": "x", "n": ' + '{"a": ' * 3000 + "1" + "}" * 3000 + "}", g2]))
    c.run("deep_object", "catalogs/deep_object.jsonl", stored=ids, reported=["line 2"])
    c.write("catalogs/int_5000_digits.jsonl", jl([g1, '{"id": "digits", "title": "x", "price": ' + "7" * 5000 + "}", g2]))
    c.run("int_5000_digits", "catalogs/int_5000_digits.jsonl", stored=ids, reported=["line 2"], why="int-str limit ValueError before")
    c.write("catalogs/int_id_5000_digits.jsonl", jl([g1, '{"id": ' + "1" * 5000 + ', "title": "x"}', g2]))
    c.run("int_id_5000_digits", "catalogs/int_id_5000_digits.jsonl", stored=ids, reported=["line 2"])
    c.write("catalogs/nan_infinity.jsonl", jl([g1, '{"id": "n1", "title": "x", "price": NaN}', '{"id": "n2", "title": "x", "price": Infinity}',
                                               '{"id": "n3", "title": "x", "price": -Infinity}', g2]))
    c.run("nan_infinity", "catalogs/nan_infinity.jsonl", stored=ids, reported=["line 2", "line 3", "line 4"])
    c.write("catalogs/float_1e309.jsonl", jl([g1, '{"id": "f1", "title": "x", "price": 1e309}', '{"id": "f2", "title": "x", "price": -1e400}', g2]))
    c.run("float_1e309", "catalogs/float_1e309.jsonl", stored=ids, reported=["f1", "f2"], not_stored=["f1", "f2"])
    c.write("catalogs/id_types.jsonl", jl([g1, {"id": 42, "title": "int id"}, {"id": 4.5, "title": "float"}, {"id": True, "title": "bool"},
                                           {"id": None, "title": "null"}, {"id": ["a"], "title": "list"}, {"id": {"k": 1}, "title": "obj"}, g2]))
    c.run("id_types", "catalogs/id_types.jsonl", stored=["good1", "good2", "42"],
          reported=["line 3", "line 4", "line 5", "line 6", "line 7"], why="ints become ids; floats, bools, null, lists, objects are rejected")
    c.write("catalogs/not_objects.jsonl", jl([g1, "[1, 2, 3]", '"just a string"', "42", "null", g2]))
    c.run("not_objects", "catalogs/not_objects.jsonl", stored=ids, reported=["line 2", "line 3", "line 4", "line 5"])
    c.write("catalogs/invalid_json.jsonl", jl([g1, '{"id": "a", "title": "x",}', "{'id': 'b'}", '{"id": "c", "title": "cut', g2]))
    c.run("invalid_json", "catalogs/invalid_json.jsonl", stored=ids, reported=["line 2", "line 3", "line 4"])
    c.write("catalogs/lone_surrogate.jsonl", jl([g1, '{"id": "s1", "title": "broken \\ud800 text"}', '{"id": "s\\udfff", "title": "x"}', g2]))
    c.run("lone_surrogate", "catalogs/lone_surrogate.jsonl", stored=ids, reported=["s1", "line 3"], not_stored=["s1"],
          why="a lone surrogate crashed the SQLite batch before")
    c.write("catalogs/huge_string.jsonl", jl([g1, {"id": "hs", "title": "x", "description": "y" * 70_000}, g2]))
    c.run("huge_string", "catalogs/huge_string.jsonl", stored=ids, reported=["hs"], not_stored=["hs"])
    c.write("catalogs/many_attributes.jsonl", jl([g1, {"id": "ma", "title": "x", **{f"k{i}": i for i in range(800)}}, g2]))
    c.run("many_attributes", "catalogs/many_attributes.jsonl", stored=ids, reported=["ma"], not_stored=["ma"])
    c.write("catalogs/duplicate_keys.jsonl", jl([g1, '{"id": "dk", "title": "first", "title": "second"}', g2]))
    c.run("duplicate_keys", "catalogs/duplicate_keys.jsonl", stored=["good1", "good2", "dk"], titles={"dk": "second"})
    c.write("catalogs/bom.jsonl", codecs.BOM_UTF8 + jl([g1, g2]))
    c.run("bom_jsonl", "catalogs/bom.jsonl", stored=ids)
    c.write("catalogs/nested_mapping.jsonl", jl([
        {"sku": "nm1", "name": "Linen shirt", "price": {"current": 129, "mrp": 199}, "descriptors": {"description": "Breathable"}},
        {"sku": "nm2", "name": "Wool coat", "price": {"current": "1e309"}},
        {"sku": "nm3", "name": "Cap", "price": {"current": "15"}}]))
    c.run("nested_mapping", "catalogs/nested_mapping.jsonl", stored=["nm1", "nm3"], reported=["nm2"], not_stored=["nm2"])
    c.write("catalogs/array.json", json.dumps([GOOD[0], "not an object", GOOD[1]], ensure_ascii=False).encode())
    c.run("json_array", "catalogs/array.json", stored=ids, reported=["item 2"])
    c.write("catalogs/types_mixed.jsonl", jl([g1, {"id": "tm", "title": ["a", "list"], "price": True}, {"id": "tp", "title": "x", "price": [1]}, g2]))
    c.run("types_mixed", "catalogs/types_mixed.jsonl", stored=ids, reported=["tm", "tp"], not_stored=["tm", "tp"])


def images(c: Corpus) -> None:
    good = {"good_rgb.jpg": _jpeg(), "good_rgba.png": _png(mode="RGBA"), "good_cmyk.jpg": _jpeg(mode="CMYK"),
            "good_16bit.png": _png(mode="I;16"), "good_polyglot.jpg": _jpeg() + b"PK\x03\x04 trailing zip bytes"}
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 255, 0)).save(buf, "GIF", save_all=True, append_images=[Image.new("RGB", (8, 8), (255, 0, 0))])
    good["good_animated.gif"] = buf.getvalue()
    bad = {
        "zero_bytes.jpg": b"",
        "text_named.jpg": b"just some text, not an image\n",
        "html_named.png": b"<!doctype html><html><body>hi</body></html>",
        "svg_named.png": b'<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"/>',
        "pdf_named.jpg": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        "truncated.jpg": _jpeg(size=(64, 64))[:200],
        "truncated.png": _png((64, 64))[:60],
        "corrupt_body.jpg": _jpeg()[:30] + bytes(range(256)) * 4,
        "bomb_png_header.png": _png_header_bomb(100_000, 100_000),
        "bomb_png_1bit.png": _png((20_000, 20_000), mode="1", optimize=True),
        "bomb_gif_header.gif": _gif_header_bomb(),
        "bomb_jpeg_header.jpg": _jpeg_header_bomb(),
        "bomb_bmp_header.bmp": _bmp_header_bomb(),
        "bomb_png_ztxt.png": _png_ztxt_bomb(),
        "icon.ico": b"\0\0\1\0\1\0\x10\x10\0\0\1\0\x20\0" + b"\0" * 64,
        "zero_size.png": _png_header_bomb(0, 0),
    }
    for name, data in {**good, **bad}.items():
        c.write(f"images/{name}", data)
    rows = [{"id": Path(n).stem, "title": f"image case {n}", "image": f"images/{n}"} for n in list(good) + list(bad)]
    rows += [{"id": "path_passwd", "title": "absolute system path", "image": "/etc/passwd"},
             {"id": "path_ssh_key", "title": "ssh key", "image": "/root/.ssh/id_rsa"},
             {"id": "path_parent", "title": "parent step", "image": "../outside/secret.jpg"},
             {"id": "path_home", "title": "home", "image": "~/.bashrc"},
             {"id": "path_proc", "title": "proc", "image": "/proc/self/environ"},
             {"id": "path_dev", "title": "device", "image": "/dev/zero"},
             {"id": "path_dir", "title": "a folder", "image": "images"},
             {"id": "path_missing", "title": "missing", "image": "images/nope.jpg"},
             {"id": "url_http", "title": "url (disabled)", "image": "http://169.254.169.254/latest/meta-data/"},
             {"id": "url_file", "title": "file url", "image": "file:///etc/passwd"},
             {"id": "link_out", "title": "symlink leaving the folder (made at test time)", "image": "images/link_out.jpg"},
             {"id": "link_passwd", "title": "symlink to /etc/passwd (made at test time)", "image": "images/link_passwd.jpg"},
             {"id": "link_loop", "title": "symlink loop (made at test time)", "image": "images/loop_a.jpg"},
             {"id": "fifo", "title": "a FIFO (made at test time)", "image": "images/fifo.jpg"}]
    c.write("image_catalog.csv", _csv_text(rows, ["id", "title", "image"]).encode())
    bad_ids = [Path(n).stem for n in bad] + [r["id"] for r in rows if r["id"].startswith(("path_", "url_", "link_", "fifo"))]
    c.run("image_catalog", "image_catalog.csv", stored=[r["id"] for r in rows], reported=bad_ids,
          with_image=[Path(n).stem for n in good], without_image=bad_ids,
          why="every bad image is reported per row; the text rows are kept; nothing outside the folder is opened")


def tars(c: Corpus) -> None:
    ids = [f"t{i}" for i in range(4)]
    imgs = {pid: _jpeg((40 * i, 90, 200)) for i, pid in enumerate(ids)}
    c.write("tars/tar_catalog.csv", _csv_text([{"id": pid, "title": f"tar item {pid}", "image": f"images/{pid}.jpg"} for pid in ids]).encode())
    good = _tar([_member(f"images/{pid}.jpg", imgs[pid]) for pid in ids])
    c.write("tars/good.tar", good)
    c.run("tar_good", "tars/tar_catalog.csv", images="tars/good.tar", stored=ids, with_image=ids)
    c.write("tars/truncated.tar", good[: 512 * 5 + 100])
    cut_ok = [pid for pid in ids if good.find(imgs[pid]) + len(imgs[pid]) <= 512 * 5 + 100]
    c.run("tar_truncated", "tars/tar_catalog.csv", images="tars/truncated.tar", stored=ids, with_image=cut_ok,
          reported=[p for p in ids if p not in cut_ok], without_image=[p for p in ids if p not in cut_ok],
          why="a truncated tar crashed the whole ingest before")
    c.write("tars/truncated_header.tar", good[:100])
    c.run("tar_truncated_header", "tars/tar_catalog.csv", images="tars/truncated_header.tar", stored=ids, reported=ids, without_image=ids)
    c.write("tars/not_a_tar.tar", b"plain text pretending to be a tar\n" * 20)
    c.run("tar_not_a_tar", "tars/tar_catalog.csv", images="tars/not_a_tar.tar", stored=ids, reported=ids, without_image=ids)
    c.write("tars/empty.tar", b"\0" * 1024)
    c.run("tar_empty", "tars/tar_catalog.csv", images="tars/empty.tar", stored=ids, reported=ids, without_image=ids)
    packed = gzip.compress(good, mtime=0)
    cut = packed[: len(packed) // 2]
    c.write("tars/gz_truncated.tar.gz", cut)
    readable = len(zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut))
    gz_ok = [pid for pid in ids if good.find(imgs[pid]) + len(imgs[pid]) <= readable]
    gz_bad = [pid for pid in ids if pid not in gz_ok]
    c.run("tar_gz_truncated", "tars/tar_catalog.csv", images="tars/gz_truncated.tar.gz", stored=ids, with_image=gz_ok,
          reported=gz_bad, without_image=gz_bad)
    tricky = [
        ("traversal", [_member("../../etc/t0.jpg", imgs["t0"]), _member("images/../../t1.jpg", imgs["t1"])], ["t0", "t1"]),
        ("absolute", [_member("/etc/t0.jpg", imgs["t0"]), _member("/images/t1.jpg", imgs["t1"])], ["t0", "t1"]),
        ("symlink", [_link("images/t0.jpg", "/etc/passwd"), _link("images/t1.jpg", "../../../root/.ssh/id_rsa")], ["t0", "t1"]),
        ("hardlink", [_link("images/t0.jpg", "/etc/passwd", tarfile.LNKTYPE), _link("images/t1.jpg", "images/t2.jpg", tarfile.LNKTYPE)], ["t0", "t1"]),
        ("devices", [_link("images/t0.jpg", "", tarfile.CHRTYPE), _link("images/t1.jpg", "", tarfile.FIFOTYPE)], ["t0", "t1"]),
        ("bomb_member", [_member("images/t0.jpg", _png_header_bomb(80_000, 80_000)), _member("images/t1.jpg", _gif_header_bomb())], ["t0", "t1"]),
        ("garbage_member", [_member("images/t0.jpg", b"not an image"), _member("images/t1.jpg", b"")], ["t0", "t1"]),
    ]
    for name, members, bad in tricky:
        rest = [_member(f"images/{pid}.jpg", imgs[pid]) for pid in ids if pid not in bad]
        c.write(f"tars/{name}.tar", _tar(members + rest))
        c.run(f"tar_{name}", "tars/tar_catalog.csv", images=f"tars/{name}.tar", stored=ids, reported=bad, without_image=bad,
              with_image=[p for p in ids if p not in bad])
    huge = tarfile.TarInfo("images/t0.jpg")
    huge.size = 10 * 1024**3  # header claims 10 GiB; the data is not there
    data = _tar([_member("images/t1.jpg", imgs["t1"])])[: 512 + -(-len(imgs["t1"]) // 512) * 512]  # no end-of-archive zeros
    header = huge.tobuf(format=tarfile.GNU_FORMAT)
    c.write("tars/huge_member_header.tar", data + header + b"\0" * 1024)
    c.run("tar_huge_member_header", "tars/tar_catalog.csv", images="tars/huge_member_header.tar", stored=ids,
          with_image=["t1"], reported=["t0", "t2", "t3"], without_image=["t0", "t2", "t3"])
    dup = _tar([_member("images/t0.jpg", b"first, broken"), _member("images/t0.jpg", imgs["t0"])] +
               [_member(f"images/{pid}.jpg", imgs[pid]) for pid in ids[1:]])
    c.write("tars/duplicate_members.tar", dup)
    c.run("tar_duplicate_members", "tars/tar_catalog.csv", images="tars/duplicate_members.tar", stored=ids, with_image=ids)


def make_runtime_specials(root: Path) -> None:
    """Symlinks that leave the folder, a symlink loop and a FIFO: made where the corpus is used."""
    img = root / "images"
    outside = root.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.jpg").write_bytes(_jpeg((1, 2, 3)))
    for name, target in (("link_out.jpg", outside / "secret.jpg"), ("link_passwd.jpg", Path("/etc/passwd")),
                         ("loop_a.jpg", img / "loop_b.jpg"), ("loop_b.jpg", img / "loop_a.jpg")):
        if not (img / name).is_symlink():
            os.symlink(target, img / name)
    if hasattr(os, "mkfifo") and not (img / "fifo.jpg").exists():
        os.mkfifo(img / "fifo.jpg")


def build(out: Path) -> Corpus:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    corpus = Corpus(out)
    catalogs(corpus)
    images(corpus)
    tars(corpus)
    (out / "manifest.json").write_text(json.dumps({"runs": corpus.runs}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return corpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    corpus = build(args.out)
    files = [p for p in args.out.rglob("*") if p.is_file() and p.name != "manifest.json"]
    size = sum(p.stat().st_size for p in files)
    print(json.dumps({"files": len(files), "runs": len(corpus.runs), "bytes": size}))


if __name__ == "__main__":
    main()
