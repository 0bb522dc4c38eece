"""Build real input files inside tests: PDFs, DOCX packages, saved HTML pages.

The PDF writer emits a minimal, valid PDF 1.4 with the standard Helvetica font,
so the tests exercise pdfium on genuine files rather than mocks.
"""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[list[str]], *, with_text: bool = True) -> bytes:
    """A PDF with one page per list of lines (WinAnsi text); with_text=False
    draws a grey box per line instead, like a scan without a text layer."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    page_ids = []
    pages_id_placeholder = len(objects) + 2 * len(pages) + 1
    for lines in pages:
        ops = []
        y = 800
        for line in lines:
            if with_text:
                raw = line.encode("cp1252", errors="replace").decode("latin-1")
                ops.append(f"BT /F1 10 Tf 50 {y} Td ({_pdf_escape(raw)}) Tj ET")
            else:
                ops.append(f"0.5 g 50 {y} {min(500, 5 * len(line))} 8 re f")
            y -= 14
        stream = "\n".join(ops).encode("latin-1")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        page = add(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id_placeholder, content, font))
        page_ids.append(page)
    kids = " ".join(f"{p} 0 R" for p in page_ids).encode()
    pages_id = add(b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(page_ids))
    assert pages_id == pages_id_placeholder
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, catalog, xref))
    return out.getvalue()


def encrypt_pdf(data: bytes, password: str = "secret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=password, owner_password=password + "-owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)


def make_docx(paragraphs: list[tuple[str, str]]) -> bytes:
    """A Word document; each paragraph is (style, text) with style 'Normal',
    'Heading1' or 'ListBullet' (the last also numbered, as Word saves bullets)."""
    body = []
    for style, text in paragraphs:
        props = f'<w:pPr><w:pStyle w:val="{style}"/>'
        if style == "ListBullet":
            props += '<w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>'
        props += "</w:pPr>"
        body.append(f"<w:p>{props}<w:r><w:t xml:space=\"preserve\">{escape(text)}</w:t></w:r></w:p>")
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body>" + "".join(body) + "</w:body></w:document>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("word/document.xml", document)
    return buffer.getvalue()


def make_govuk_html(title: str, blocks: list[tuple[str, str]]) -> str:
    """A saved gov.uk-style page: header, navigation, cookie banner, footer
    around a <main> holding the report; blocks are (tag, text), tag h2/p/li."""
    parts = []
    in_list = False
    for tag, text in blocks:
        if tag == "li" and not in_list:
            parts.append("<ul class=\"govuk-list govuk-list--bullet\">")
            in_list = True
        if tag != "li" and in_list:
            parts.append("</ul>")
            in_list = False
        parts.append(f"<{tag}>{escape(text)}</{tag}>")
    if in_list:
        parts.append("</ul>")
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
        + escape(title) + " - GOV.UK</title><script>window.GOVUK={};</script>"
        "<style>body{font-family:sans-serif}</style></head><body>"
        "<div class=\"govuk-cookie-banner\"><p>Cookies on GOV.UK</p><button>Accept</button></div>"
        "<header class=\"govuk-header\"><a href=\"/\">GOV.UK</a></header>"
        "<nav><ol><li>Home</li><li>Education, training and skills</li></ol></nav>"
        "<main id=\"main-content\"><h1>" + escape(title) + "</h1>" + "".join(parts) + "</main>"
        "<footer class=\"govuk-footer\"><p>All content is available under the Open Government "
        "Licence v3.0</p><p>© Crown copyright</p></footer></body></html>"
    )


# A short focused-visit letter used by several format tests.
LETTER_LINES = [
    "12 March 2024",
    "Jane Smith",
    "Director of Children's Services",
    "Exampleshire County Council",
    "Dear Ms Smith",
    "Focused visit to Exampleshire children's services",
    "This letter summarises the findings of the focused visit to Exampleshire children's",
    "services on 6 and 7 February 2024. His Majesty's Inspectors for this visit were Ann",
    "Lee and Bob Ray.",
    "Headline findings",
    "Children receive a timely response when they are referred to children's social care.",
    "Supervision is not always regular and managers do not record their decisions.",
    "What needs to improve in this area of social work practice?",
    "- The regularity and recording of supervision.",
    "- The quality of pathway plans for care leavers.",
    "Main findings",
    "Thresholds are well understood by partners, and contacts are screened promptly.",
    "Ofsted will take the findings from this focused visit into account when planning your",
    "next inspection or visit.",
    "Yours sincerely",
    "Ann Lee",
    "His Majesty's Inspector",
]
