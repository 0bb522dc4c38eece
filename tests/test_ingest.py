"""Every input format, each from a file the test makes, and every bad input
(exit code 1, one line naming the file, no output file left behind)."""

from __future__ import annotations

import json

import pytest

from makers import LETTER_LINES, encrypt_pdf, make_docx, make_govuk_html, make_pdf
from pipeline.cli import app
from pipeline.errors import InputError
from pipeline.ingest import read_document
from pipeline.segment import segment_document

EXPECTED = [
    ("Headline findings", "strength",
     "Children receive a timely response when they are referred to children's social care."),
    ("Headline findings", "development",
     "Supervision is not always regular and managers do not record their decisions."),
    ("What needs to improve in this area of social work practice?", "development",
     "The regularity and recording of supervision."),
    ("What needs to improve in this area of social work practice?", "development",
     "The quality of pathway plans for care leavers."),
    ("Main findings", "strength",
     "Thresholds are well understood by partners, and contacts are screened promptly."),
]


def letter_text(quote: str = "'") -> str:
    """The test letter as plain text, paragraphs separated by blank lines."""
    return "\n\n".join(line.replace("'", quote) for line in LETTER_LINES) + "\n"


def findings_of(path):
    seg = segment_document(read_document(path))
    return [(f.section, f.judgement, f.text) for f in seg.findings], seg


def assert_expected(found, quote="'"):
    want = [(s, j, t.replace("'", quote)) for s, j, t in EXPECTED]
    assert found == want


def test_pdf(tmp_path):
    path = tmp_path / "letter.pdf"
    path.write_bytes(make_pdf([LETTER_LINES[:12], LETTER_LINES[12:]]))
    found, seg = findings_of(path)
    assert_expected(found)
    assert seg.document.pages == 2
    assert seg.info.authority == "Exampleshire" and seg.info.letter_date == "2024-03-12"


def test_pdf_page_furniture_is_removed(tmp_path):
    header = "Focused visit to Exampleshire children's services"
    pages = [
        LETTER_LINES[:11] + ["Ofsted", "Piccadilly Gate", "Store Street", "Manchester",
                             "M1 2WD", "T 0300 123 1231", "enquiries@ofsted.gov.uk"],
        ["2", header] + LETTER_LINES[11:16],
        ["3", header] + LETTER_LINES[16:],
    ]
    path = tmp_path / "furniture.pdf"
    path.write_bytes(make_pdf(pages))
    doc = read_document(path)
    assert "Piccadilly" not in doc.text and "\n2\n" not in doc.text
    found, _ = findings_of(path)
    assert_expected(found)


@pytest.mark.parametrize("encoding,prefix", [
    ("utf-8", b""),
    ("utf-8", b"\xef\xbb\xbf"),
    ("utf-16", b""),          # Python writes the BOM itself
    ("utf-16-le", b"\xff\xfe"),
])
def test_text_encodings(tmp_path, encoding, prefix):
    path = tmp_path / f"letter-{encoding}.txt"
    path.write_bytes(prefix + letter_text("’").encode(encoding))
    found, seg = findings_of(path)
    assert_expected(found, "’")
    assert not seg.document.text.startswith("\ufeff")


def test_windows_1252_with_smart_quotes(tmp_path):
    path = tmp_path / "letter-cp1252.txt"
    path.write_bytes(letter_text("’").encode("cp1252"))
    assert b"\x92" in path.read_bytes()  # the smart quote is the cp1252 byte
    found, seg = findings_of(path)
    assert_expected(found, "’")
    assert any("Windows-1252" in w for w in seg.warnings)


HEADINGS = ("Headline findings", "Main findings",
            "What needs to improve in this area of social work practice?")


def letter_structure():
    """The test letter as (role, text): role heading, bullet or paragraph."""
    for line in LETTER_LINES:
        if line in HEADINGS:
            yield "heading", line
        elif line.startswith("- "):
            yield "bullet", line[2:]
        else:
            yield "paragraph", line


def test_docx(tmp_path):
    styles = {"heading": "Heading1", "bullet": "ListBullet", "paragraph": "Normal"}
    path = tmp_path / "letter.docx"
    path.write_bytes(make_docx([(styles[role], text) for role, text in letter_structure()]))
    found, _ = findings_of(path)
    assert_expected(found)


def govuk_page() -> str:
    tags = {"heading": "h2", "bullet": "li", "paragraph": "p"}
    return make_govuk_html("Exampleshire focused visit", [(tags[role], text) for role, text in letter_structure()])


def page_text(tmp_path, page: str) -> str:
    """The text read from a saved page, whose findings must be the test letter's."""
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    found, seg = findings_of(path)
    assert_expected(found)
    return seg.document.text


def test_saved_govuk_html_page(tmp_path):
    text = page_text(tmp_path, govuk_page())
    assert "Cookies" not in text and "Crown copyright" not in text


def test_main_written_in_a_script_is_not_taken_for_the_report(tmp_path):
    """A search of the markup for '<main' found it inside the script, and read the
    script's rest and the cookie banner as the report's text."""
    page = govuk_page().replace("<script>window.GOVUK={};</script>",
                                "<script>var banner = '<main class=\"x\">' + 1;</script>")
    assert page.count("<main") == 2
    text = page_text(tmp_path, page)
    assert "+ 1" not in text and "Cookies" not in text


def test_a_page_without_main_whose_head_is_not_closed_is_read(tmp_path):
    """HTML allows the end tag of <head> to be left out; the page's text was all
    taken for the head's, and the page had 'no report'."""
    page = (govuk_page().replace("</head>", "").replace('<main id="main-content">', "<div>")
            .replace("</main>", "</div>"))
    text = page_text(tmp_path, page)
    assert "GOV.UK</title>" not in text and "font-family" not in text


def test_list_items_whose_end_tag_is_left_out_make_no_bullets_after_their_list(tmp_path):
    """HTML lets </li> be left out: the breadcrumb's items, before <main>, turned every
    paragraph of the report into a bullet, and the headings into findings."""
    page = govuk_page().replace("<li>Home</li>", "<li>Home")
    assert page.count("</li>") == govuk_page().count("</li>") - 1
    page_text(tmp_path, page)
    from pipeline.ingest import read_html

    assert read_html("<main><ul><li>a</ul><p>Report</p></main>", "x.html") == "- a\n\nReport\n"
    assert read_html("<nav><ul><li>Home<li>About</ul></nav><main><p>Report</p></main>", "x.html") == "Report\n"
    assert read_html("<li><main><p>Report</p></main>", "x.html") == "Report\n"
    # and a <head> left open with no <body> tag ends at the first element of the page
    assert read_html("<html><head><title>T</title><p>Report</p>", "x.html") == "Report\n"
    assert read_html("<head><script>var p = '<p>';</script><p>Report</p>", "x.html") == "Report\n"


def bad_inputs(tmp_path):
    pdf = make_pdf([LETTER_LINES])
    cases = {
        "empty.txt": b"",
        "blank.txt": b"  \n\t\n  ",
        "binary.txt": bytes(range(256)) * 8,
        "truncated.pdf": pdf[: len(pdf) // 3],
        "encrypted.pdf": encrypt_pdf(pdf),
        "scan.pdf": make_pdf([LETTER_LINES], with_text=False),
        "notapdf.pdf": b"<html>not a pdf</html>",
        "notazip.docx": b"PK but not really a zip file" * 10,
        "letter.rtf": b"{\\rtf1 hello}",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    return cases


EXPECTED_MESSAGES = {
    "empty.txt": "empty file",
    "blank.txt": "empty file",
    "binary.txt": "binary data",
    "truncated.pdf": "unreadable PDF",
    "encrypted.pdf": "encrypted PDF",
    "scan.pdf": "no text layer: run OCR first",
    "notapdf.pdf": "not a PDF",
    "notazip.docx": "not a valid DOCX",
    "letter.rtf": "unknown file type",
}


def test_bad_inputs_raise_named_errors(tmp_path):
    bad_inputs(tmp_path)
    for name, message in EXPECTED_MESSAGES.items():
        with pytest.raises(InputError) as info:
            read_document(tmp_path / name)
        assert message in str(info.value)
        assert name in str(info.value)


@pytest.mark.parametrize("name", sorted(EXPECTED_MESSAGES))
def test_cli_bad_input_exit_1_one_line_no_output(tmp_path, runner, name):
    bad_inputs(tmp_path)
    good = tmp_path / "good.txt"
    good.write_text(letter_text(), encoding="utf-8")
    out = tmp_path / "out" / "findings.jsonl"
    out.parent.mkdir()
    result = runner.invoke(app, ["segment", str(good), str(tmp_path / name), "--out", str(out)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and EXPECTED_MESSAGES[name] in lines[0]
    assert "Traceback" not in result.output
    assert list(out.parent.iterdir()) == []  # nothing written, no temporary file left


def test_cli_missing_path(tmp_path, runner):
    result = runner.invoke(app, ["segment", str(tmp_path / "nope.pdf"), "--out",
                                 str(tmp_path / "f.jsonl")])
    assert result.exit_code == 1
    assert "nope.pdf" in result.stderr and "no such file" in result.stderr


def test_cli_segment_jsonl_and_csv(tmp_path, runner):
    letters = tmp_path / "letters" / "sub"
    letters.mkdir(parents=True)
    (letters / "a letter.txt").write_text(letter_text(), encoding="utf-8")
    (letters / "notes.xyz").write_text("ignored in folders", encoding="utf-8")
    out = tmp_path / "findings.jsonl"
    result = runner.invoke(app, ["segment", str(tmp_path / "letters"), "--out", str(out),
                                 "--texts", str(tmp_path / "texts")])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in records] == [t for _, _, t in EXPECTED]
    first = records[0]
    assert first["id"] == "a_letter#0000" and first["letter_id"] == "a_letter"
    assert first["source"].endswith("a letter.txt") and first["kind"] == "focused_visit"
    text = (tmp_path / "texts" / "a_letter.txt").read_text(encoding="utf-8")
    for r in records:
        assert " ".join(text[r["start"]:r["end"]].split()).lstrip("- ") == r["text"]

    csv_out = tmp_path / "findings.csv"
    result = runner.invoke(app, ["segment", str(tmp_path / "letters"), "--format", "csv",
                                 "--out", str(csv_out)])
    assert result.exit_code == 0
    import csv

    rows = list(csv.DictReader(open(csv_out, encoding="utf-8")))
    assert [r["text"] for r in rows] == [r["text"] for r in records]
    assert rows[0]["judgement"] == "strength"


def test_same_stem_in_two_folders_gets_two_ids(tmp_path, runner):
    for folder, extra in (("a", ""), ("b", "\nExtra line.\n")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "letter.txt").write_text(letter_text() + extra, encoding="utf-8")
    out = tmp_path / "f.jsonl"
    assert runner.invoke(app, ["segment", str(tmp_path / "a"), str(tmp_path / "b"),
                               "--out", str(out)]).exit_code == 0
    ids = {json.loads(l)["letter_id"] for l in out.read_text().splitlines()}
    assert len(ids) == 2 and "letter" in ids


@pytest.mark.parametrize("text, authority", [
    # a focused visit whose heading names no authority is left without one
    ("Focused visit to children's services\n\nInspectors were reading case records in Reading and "
     "Bury.\n", None),
    # a press summary names it in passing: a proper noun only
    ("Leaders at Swindon Borough Council have improved services, Ofsted has said.\n", "Swindon"),
    ("Inspectors were reading case records, the report found. Help in Bury St Edmunds is weak.\n", None),
    ("Children in Kingston upon Thames are safer, Ofsted has said.\n", "Kingston upon Thames"),
    # a name that ends a sentence, or stands before a council word
    ("Help has improved in Swindon. The report found that leaders act quickly.\n", "Swindon"),
    ("Swindon Council's children's services are improving, Ofsted has said.\n", "Swindon"),
    # a line break inside a name does not end it; "St." is an abbreviation
    ("Leaders in North\nYorkshire act quickly, Ofsted has said.\n", "North Yorkshire"),
    ("Visits in Bury\nSt Edmunds are slow, the report found.\n", None),
    ("Children in St. Helens are safer, Ofsted has said.\n", "St Helens"),
])
def test_an_authority_is_only_read_from_a_proper_noun(text, authority):
    from pipeline.letter import read_letter_info

    assert read_letter_info(text).authority == authority


def _docx_of(body: str) -> bytes:
    import io
    import zipfile

    document = ('<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
                'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">'
                f"<w:body>{body}</w:body></w:document>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", document)
    return buffer.getvalue()


def test_docx_text_box_is_read_once_after_its_anchor_and_a_non_breaking_hyphen_kept():
    from pipeline.ingest import read_docx

    box = "<w:txbxContent><w:p><w:r><w:t>Inside the box.</w:t></w:r></w:p></w:txbxContent>"
    body = ("<w:p><w:r><w:t>Before the box.</w:t></w:r></w:p>"
            "<w:p><w:r><w:t>Anchor text.</w:t></w:r><w:r><mc:AlternateContent>"
            f"<mc:Choice Requires=\"wps\"><w:drawing>{box}</w:drawing></mc:Choice>"
            f"<mc:Fallback><w:pict>{box}</w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>"
            "<w:p><w:r><w:t>Multi</w:t><w:noBreakHyphen/><w:t>agency work.</w:t></w:r></w:p>")
    assert read_docx(_docx_of(body), "box.docx") == \
        "Before the box.\n\nAnchor text.\n\nInside the box.\n\nMulti-agency work.\n"


def test_hidden_folders_and_word_lock_files_are_passed_over(tmp_path):
    from pipeline.ingest import iter_input_files

    for name in ("letter.txt", ".hidden.txt", "~$letter.docx", ".ipynb_checkpoints/letter.txt", "2020/b.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert [p.relative_to(tmp_path).as_posix() for p in iter_input_files([tmp_path])] == ["2020/b.txt", "letter.txt"]


def test_segment_names_a_folder_name_that_is_not_utf8_as_the_folder(tmp_path, runner):
    import os

    folder = os.path.join(os.fsencode(tmp_path), b"caf\xe9")
    os.mkdir(folder)
    with open(os.path.join(folder, b"letter.txt"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(LETTER_LINES))
    result = runner.invoke(app, ["segment", os.fsdecode(folder), "--out", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 1
    assert result.output == (f"safeguarding-themes: error: {tmp_path}/caf\\xe9/letter.txt: the name of a folder "
                             "on its path is not valid UTF-8 (rename that folder)\n")


def test_segment_names_a_file_name_that_is_not_utf8_in_one_line(tmp_path, runner):
    import os

    folder = tmp_path / "letters"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"bad\xffname.txt"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(LETTER_LINES))
    result = runner.invoke(app, ["segment", str(folder), "--out", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 1
    assert "bad\\xffname.txt: file name is not valid UTF-8 (rename the file)" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "out.jsonl").exists()


def test_segment_never_writes_over_a_letter_and_checks_texts_first(tmp_path, runner):
    letter = tmp_path / "letter.txt"
    letter.write_text("\n".join(LETTER_LINES) + "\n", encoding="utf-8")
    before = letter.read_bytes()
    out = tmp_path / "out.jsonl"
    cases = [(["--out", str(letter)], "letter.txt: is one of the letters read"),
             (["--out", str(out), "--texts", str(tmp_path)], "letter.txt: the extracted text would replace this letter"),
             (["--out", str(out), "--texts", str(letter)], "letter.txt: is a file, not a folder"),
             (["--out", str(tmp_path)], "is a folder, not a file")]
    for options, message in cases:
        result = runner.invoke(app, ["segment", str(letter)] + options)
        assert result.exit_code == 1 and message in result.output, (options, result.output)
        assert len(result.output.strip().splitlines()) == 1
        assert letter.read_bytes() == before and not out.exists()


def test_segment_writes_the_findings_and_the_texts_together_or_not_at_all(tmp_path, runner, monkeypatch):
    """The findings' offsets index into the texts: a text that could not be written
    left the new findings beside the old texts."""
    import errno
    import os
    import re

    for name in ("a", "b"):
        (tmp_path / f"{name}.txt").write_text(letter_text(), encoding="utf-8")
    out, texts = tmp_path / "findings.jsonl", tmp_path / "texts"
    texts.mkdir()
    (texts / "a.txt").write_text("the earlier text", encoding="utf-8")
    (texts / "b.txt").mkdir()   # b's text cannot be put in place
    out.write_text("the earlier findings\n", encoding="utf-8")
    letters = [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]
    result = runner.invoke(app, ["segment", *letters, "--out", str(out), "--texts", str(texts)])
    assert result.exit_code == 1, result.output
    assert f"{texts / 'b.txt'}: is a folder, not a file (remove it, or choose another --texts)" in result.output
    assert out.read_text(encoding="utf-8") == "the earlier findings\n"
    assert (texts / "a.txt").read_text(encoding="utf-8") == "the earlier text"
    assert sorted(p.name for p in texts.iterdir()) == ["a.txt", "b.txt"]

    # a full disk: the folders made for the run (--texts, its parent, --out's) are not left behind
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left")))
    for options in (["--out", str(out), "--texts", str(tmp_path / "new" / "texts")],
                    ["--out", str(tmp_path / "new" / "f.jsonl"), "--texts", str(tmp_path / "new" / "texts")]):
        result = runner.invoke(app, ["segment", *letters, *options])
        assert result.exit_code == 1 and "disk full while writing" in result.output, result.output
        assert not (tmp_path / "new").exists() and out.read_text(encoding="utf-8") == "the earlier findings\n"
    monkeypatch.setattr(os, "fsync", real_fsync)

    # --out may not be a letter's text, nor --texts be --out or inside it (found before any letter is read)
    result = runner.invoke(app, ["segment", *letters, "--out", str(texts / "a.txt"), "--texts", str(texts)])
    assert result.exit_code == 1 and "a.txt: is --out and a letter's extracted text" in result.output
    assert (texts / "a.txt").read_text(encoding="utf-8") == "the earlier text"
    for inside in ("", "sub"):
        result = runner.invoke(app, ["segment", *letters, "--out", str(tmp_path / "t"),
                                     "--texts", str(tmp_path / "t" / inside)])
        assert result.exit_code == 1 and "t: is written by both --out and --texts" in result.output
        assert not (tmp_path / "t").exists()

    # a text's path that is a link to a folder: the link is replaced, the folder left alone
    (texts / "b.txt").rmdir()
    (tmp_path / "elsewhere").mkdir()
    (texts / "b.txt").symlink_to(tmp_path / "elsewhere")
    result = runner.invoke(app, ["segment", *letters, "--out", str(out), "--texts", str(texts)])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(rf"segment: 2 letters, 10 findings -> {re.escape(str(out))} \(\d+\.\d s\)",
                        result.output.strip()), result.output
    assert not (texts / "b.txt").is_symlink() and (texts / "b.txt").read_text(encoding="utf-8") == letter_text()
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_segment_gives_copies_of_one_letter_under_one_name_ids_of_their_own(tmp_path, runner):
    from conftest import REPO

    for folder, lines in (("a", LETTER_LINES[:-3]), ("b", LETTER_LINES), ("c", LETTER_LINES)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "letter.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["segment", str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "c"),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    letters = {r["source"]: r["letter_id"] for r in records}
    assert len(set(letters.values())) == 3
    assert len({r["id"] for r in records}) == len(records)
    # and the findings file tags as it is
    result = runner.invoke(app, ["tag", "--findings", str(out), "--out", str(tmp_path / "t.jsonl"), "--method",
                                 "rules", "--quiet", "--themes", str(REPO / "labels" / "themes.yaml"),
                                 "--patterns", str(REPO / "labels" / "patterns.jsonl")])
    assert result.exit_code == 0, result.output
