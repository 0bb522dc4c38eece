"""Reading documents in the formats analysts hold letters in.

PDF (as Ofsted publishes), plain text (UTF-8 with or without BOM, UTF-16,
Windows-1252), DOCX and HTML (a saved gov.uk report page). Each reader returns
the document's text; offsets of findings refer to that text.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator

from .characters import PLAIN
from .errors import InputError
from .surrogates import has_lone_surrogate, printable

PDF_EXTENSIONS = {".pdf"}
TEXT_EXTENSIONS = {".txt", ".text"}
DOCX_EXTENSIONS = {".docx"}
HTML_EXTENSIONS = {".html", ".htm"}
SUPPORTED = PDF_EXTENSIONS | TEXT_EXTENSIONS | DOCX_EXTENSIONS | HTML_EXTENSIONS

# Letters run to a few hundred kB of text; anything far larger is not a letter
# and would only slow a batch down. (PDFs carry images, so they may be larger.)
MAX_BYTES = 64 * 1024 * 1024
MAX_TEXT_BYTES = 16 * 1024 * 1024


@dataclass
class Document:
    source: str           # the path as the user gave it
    format: str           # pdf, text, docx, html
    text: str             # extracted text; finding offsets index into it
    sha256: str           # of the file's bytes: identifies a letter's content
    pages: int | None = None
    warnings: list[str] = field(default_factory=list)


def iter_input_files(paths: list[str | Path]) -> Iterator[Path]:
    """Files named, and supported files found recursively in folders, sorted.

    Symlinked folders are followed once: a loop is detected by the real path.
    A file that does not exist is an error; a folder with no letters yields none.
    A file named twice (``L L/a.txt``, or reached through a symlink) is given once.
    """
    given_already: set[str] = set()
    for path in _each_input_file(paths):
        real = os.path.realpath(path)
        if real not in given_already:
            given_already.add(real)
            yield path


def _each_input_file(paths: list[str | Path]) -> Iterator[Path]:
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise InputError("no such file or folder", path=str(given),
                             fix="check the path; folders are searched recursively")
        if path.is_dir():
            seen: set[str] = set()
            found: list[Path] = []
            for root, dirs, files in os.walk(path, followlinks=True):
                real = os.path.realpath(root)
                if real in seen:
                    dirs[:] = []
                    continue
                seen.add(real)
                # hidden folders (.git, .ipynb_checkpoints) hold no letters of the user's
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in files:
                    candidate = Path(root) / name
                    # hidden files, and the lock file Word keeps beside an open document
                    if candidate.suffix.lower() in SUPPORTED and not name.startswith((".", "~$")) \
                            and not is_special_file(candidate):
                        found.append(candidate)
            yield from sorted(found, key=lambda p: str(p))
        else:
            yield path


def is_special_file(path: str | Path) -> bool:
    """A named pipe, socket or device: reading one waits for a writer that may never
    come. (A link to nothing is not one: reading it fails, and the error names it.)"""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode) and not os.path.isdir(path)
    except OSError:
        return False


def check_regular_file(path: str | Path) -> None:
    if is_special_file(path):
        raise InputError("not a regular file (a named pipe, socket or device): no letter to read",
                         path=printable(path), fix="give the letter's file")


def find_letters(paths: list[str | Path]) -> list[Path]:
    """The letters named or found under ``paths``; an error if there are none."""
    files = list(iter_input_files(list(paths)))
    if not files:
        raise InputError("no letters found (.pdf, .txt, .docx, .html)",
                         path=", ".join(str(p) for p in paths),
                         fix="give files or folders that hold letters")
    return files


def check_utf8_path(path: str | Path) -> None:
    """Refuse a path that is not UTF-8 (a Linux name is bytes): its findings' ``source``
    could be written in no output."""
    if not has_lone_surrogate(str(path)):
        return
    file_bad = has_lone_surrogate(Path(path).name)
    folder_bad = has_lone_surrogate(str(Path(path).parent))
    if file_bad and folder_bad:
        message, fix = "neither the file's name nor a folder's on its path is valid UTF-8", "rename them"
    elif file_bad:
        message, fix = "file name is not valid UTF-8", "rename the file"
    else:
        message, fix = "the name of a folder on its path is not valid UTF-8", "rename that folder"
    raise InputError(message, path=printable(path), fix=fix)


def read_document(path: str | Path) -> Document:
    """Read one document; raise InputError naming the file for anything unreadable."""
    check_utf8_path(path)
    source = str(path)
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in SUPPORTED:
        raise InputError(f"unknown file type '{ext or '(none)'}'", path=source,
                         fix="give a .pdf, .txt, .docx or .html file")
    check_regular_file(source)
    try:
        size = path.stat().st_size
        if size > (MAX_BYTES if ext in PDF_EXTENSIONS else MAX_TEXT_BYTES):
            limit = (MAX_BYTES if ext in PDF_EXTENSIONS else MAX_TEXT_BYTES) // (1024 * 1024)
            raise InputError(f"file too large ({size // (1024 * 1024)} MB)", path=source,
                             fix=f"letters are far below {limit} MB; check the file")
        data = path.read_bytes()
    except IsADirectoryError:
        raise InputError("is a folder", path=source, fix="give files or folders, not both") from None
    except PermissionError:
        raise InputError("permission denied", path=source, fix="check the file's permissions") from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path=source, fix="check the file") from None
    return parse_bytes(data, source, ext)


def parse_bytes(data: bytes, source: str, ext: str) -> Document:
    sha = hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise InputError("empty file", path=source, fix="the file has no content; check the export")
    pages = None
    warnings: list[str] = []
    if ext in PDF_EXTENSIONS:
        from .pdf import extract_pdf

        if not data.lstrip()[:5] == b"%PDF-":
            raise InputError("not a PDF (no %PDF header)", path=source,
                             fix="the file is damaged or has the wrong extension")
        text, pages = extract_pdf(data, source)
        fmt = "pdf"
    elif ext in DOCX_EXTENSIONS:
        text = read_docx(data, source)
        fmt = "docx"
    elif ext in HTML_EXTENSIONS:
        text = read_html(decode_text(data, source, warnings), source)
        if len(re.findall(r"[A-Za-z]{2,}", text)) < 30:
            # a menu, a cookie banner or an error page: not the report
            raise InputError("no report in this HTML page", path=source,
                             fix="save the page that holds the report's text, or download its PDF")
        fmt = "html"
    else:
        text = decode_text(data, source, warnings)
        fmt = "text"
    text = normalise_text(text)
    if not text.strip():
        raise InputError("no text in the document", path=source,
                         fix="check that the file holds the letter's text")
    return Document(source=source, format=fmt, text=text, sha256=sha, pages=pages,
                    warnings=warnings)


_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def normalise_text(text: str) -> str:
    """One newline convention, plain spaces and hyphens, no control characters, no BOM."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    text = text.translate(PLAIN)
    text = _SURROGATE.sub("\ufffd", text)  # halves of characters cannot be written as UTF-8
    return _CONTROL.sub("", text)


def _looks_binary(data: bytes) -> bool:
    sample = data[:65536]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return controls > len(sample) * 0.01


def decode_text(data: bytes, source: str, warnings: list[str]) -> str:
    """Decode text bytes: BOMs first, then UTF-16 by its NUL pattern, UTF-8, cp1252."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError("damaged UTF-16 text", path=source,
                             fix="save the file again as UTF-8") from None
    sample = data[:4096]
    if len(sample) >= 4:
        even_nul = sample[0::2].count(0) / max(1, len(sample[0::2]))
        odd_nul = sample[1::2].count(0) / max(1, len(sample[1::2]))
        if odd_nul > 0.3 and even_nul < 0.05:
            return data.decode("utf-16-le", errors="replace")
        if even_nul > 0.3 and odd_nul < 0.05:
            return data.decode("utf-16-be", errors="replace")
    if _looks_binary(data):
        raise InputError("binary data, not text", path=source,
                         fix="give the letter as PDF, DOCX, HTML or text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Windows-1252 is what Word and Outlook save as "plain text" on English systems;
    # its five undefined bytes fall back to Latin-1 so nothing is lost.
    warnings.append("not UTF-8: read as Windows-1252")
    return "".join(_cp1252_char(b) for b in data)


def _cp1252_char(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(byte)


# ---------------------------------------------------------------- DOCX

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def read_docx(data: bytes, source: str) -> str:
    """Paragraphs of a DOCX body in order; list paragraphs as "- " bullets.

    Read with zipfile and ElementTree (no macros, no external references are
    followed): a DOCX is a zip of XML parts.
    """
    import io
    from xml.etree import ElementTree

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            xml = archive.read("word/document.xml")
    except (zipfile.BadZipFile, KeyError, EOFError):
        raise InputError("not a valid DOCX (not a Word zip package)", path=source,
                         fix="open it in Word and save as .docx again") from None
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        raise InputError("damaged DOCX (unreadable document.xml)", path=source,
                         fix="open it in Word and save as .docx again") from None
    try:
        return _docx_blocks(root)
    except RecursionError:
        raise InputError("damaged DOCX (document.xml nested too deeply)", path=source,
                         fix="open it in Word and save as .docx again") from None


def _docx_blocks(root) -> str:
    blocks: list[str] = []
    for para in _docx_paragraphs(root):
        text = "".join(_docx_own_text(para)).strip()
        if not text:
            continue
        props = para.find(f"{_W}pPr")
        is_list = False
        if props is not None:
            style = props.find(f"{_W}pStyle")
            style_name = style.get(f"{_W}val", "") if style is not None else ""
            is_list = props.find(f"{_W}numPr") is not None or "list" in style_name.lower()
        blocks.append(("- " + text) if is_list else text)
    return "\n\n".join(blocks) + "\n"


# Word writes a text box twice: for itself (mc:Choice) and for older readers (mc:Fallback)
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def _docx_paragraphs(node) -> Iterator:
    """The paragraphs in document order, each once: a paragraph in a text box comes
    after the paragraph it is anchored in, and a text box's fallback copy is skipped."""
    for child in node:
        if child.tag == _MC_FALLBACK:
            continue
        if child.tag == f"{_W}p":
            yield child
        yield from _docx_paragraphs(child)


def _docx_own_text(node) -> Iterator[str]:
    """A paragraph's own text: not that of the paragraphs of a text box inside it."""
    for child in node:
        if child.tag in (f"{_W}p", _MC_FALLBACK):
            continue
        if child.tag == f"{_W}t" and child.text:
            yield child.text
        elif child.tag == f"{_W}tab":
            yield " "
        elif child.tag in (f"{_W}br", f"{_W}cr"):
            yield "\n"
        elif child.tag == f"{_W}noBreakHyphen":
            yield "-"
        yield from _docx_own_text(child)


# ---------------------------------------------------------------- HTML

_BLOCK_TAGS = {"p", "div", "section", "article", "main", "li", "h1", "h2", "h3", "h4",
               "h5", "h6", "td", "th", "tr", "br", "ul", "ol", "table", "blockquote", "dd", "dt"}
_SKIP_TAGS = {"script", "style", "noscript", "nav", "header", "footer", "template", "svg",
              "form", "button", "aside", "head", "title"}


# the elements that may stand in <head>; any other ends a head whose </head> is left out
_HEAD_CONTENT = {"title", "meta", "link", "style", "script", "base", "noscript", "template"}


class _TextExtractor(HTMLParser):
    """Visible text of the page, one block per paragraph; the blocks inside <main>
    elements are kept apart (gov.uk pages hold the report there). HTML lets end tags
    such as </head> and </li> be left out, so those are closed as a browser would."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.main_blocks: list[str] = []
        self.current: list[str] = []
        self.skipping: list[str] = []   # the skipped elements open, the innermost last
        self.lists: list[int] = []      # per open <ul> or <ol>, the items open outside it
        self.in_li = 0
        self.in_main = 0
        self.saw_main = False

    def _flush(self) -> None:
        text = re.sub(r"\s+", " ", "".join(self.current)).strip()
        if text:
            (self.main_blocks if self.in_main else self.blocks).append(("- " + text) if self.in_li else text)
        self.current = []

    def handle_starttag(self, tag, attrs):
        if self.skipping and self.skipping[-1] == "head" and tag not in _HEAD_CONTENT:
            self.skipping.pop()
        if tag == "main":
            # the report is read whatever the markup before it left open
            self._flush()
            self.skipping.clear()
            self.lists.clear()
            self.in_li = 0
            self.in_main += 1
            self.saw_main = True
            return
        if tag in _SKIP_TAGS:
            self.skipping.append(tag)
            return
        if tag in _BLOCK_TAGS:
            self._flush()
        if self.skipping:   # a menu's list items make no bullets of the report
            return
        if tag in ("ul", "ol"):
            self.lists.append(self.in_li)
        elif tag == "li":
            self.in_li += 1

    def handle_startendtag(self, tag, attrs):
        if tag == "br" and not self.skipping:
            self.current.append(" ")

    def handle_endtag(self, tag):
        if tag in _SKIP_TAGS:
            if tag in self.skipping:   # it ends, with what was left open inside it
                while self.skipping.pop() != tag:
                    pass
            return
        if tag == "main":
            self._flush()
            self.in_main = max(0, self.in_main - 1)
            return
        if tag in _BLOCK_TAGS:
            self._flush()
        if self.skipping:
            return
        if tag in ("ul", "ol"):
            if self.lists:   # the list's items end with it, their </li> or not
                self.in_li = self.lists.pop()
        elif tag == "li":
            self.in_li = max(0, self.in_li - 1)

    def handle_data(self, data):
        if not self.skipping:
            self.current.append(data)


def read_html(html: str, source: str) -> str:
    """Text of an HTML page; that of its <main> elements when it has one (gov.uk
    pages). The parser finds <main>, not a search of the markup, so that "<main>" in
    a script or a comment is not taken for it."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient; this guards against its rare assertion errors
        raise InputError("unreadable HTML", path=source, fix="save the page again") from None
    parser._flush()
    return "\n\n".join(parser.main_blocks if parser.saw_main else parser.blocks) + "\n"
