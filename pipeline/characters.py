"""Characters that are read as their plain forms.

Letters set spaces and hyphens that are not the plain ones, soft hyphens and
zero-width spaces: rules written with a plain space or hyphen, or a whole word, must
match them (reports of 2020-25 set U+202F between words, "alone\u202fby social
workers"; a 2026 letter writes "long\u2011term"). The reader makes them plain
(`ingest.normalise_text`), and labelled texts are compared with findings the same way
(`labelset.text_key`), so that a label made before a character was made plain still
names its finding.
"""

from __future__ import annotations

# U+FFFE is how pdfium marks a hyphen at a line's end
PLAIN = str.maketrans({"\ufffe": "-", "\u2010": "-", "\u2011": "-", "\u00ad": None, "\u200b": None,
                       **{space: " " for space in "\u00a0\u2002\u2003\u2007\u2008\u2009\u200a\u202f"}})
