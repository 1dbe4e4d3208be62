"""Text from a dataset file, placed inside Markdown: shown as written, never read as markup.

A department writes the dataset file; its names and descriptions reach Markdown that people
read in the Airflow UI (the DAG's documentation, the Step 1 approval form) and in the Data
Submission Checklist report. Written into Markdown as it is, a description could add raw HTML
(``<script>``, ``<img onerror=...>``), links and images (``[x](javascript:...)``, a tracking
pixel), headings, table rows (``|``) or code. :func:`md_text` makes any value plain text in any
Markdown position (a paragraph, a table cell, a heading, bold); renderers show the characters
the department typed, nothing more.

How: every character that can open inline markup is backslash-escaped (CommonMark lets any ASCII
punctuation be escaped), which also covers raw HTML and entities (``\\<``, ``\\&``). Line breaks
are folded into spaces, so the text cannot start a block of its own (heading, list, quote,
table, fence, indented code); what can still open a block at the start of the line is escaped
there. Bare URLs ("https://", "www.") and e-mail addresses are broken up so that GFM renderers
(the Airflow UI's) do not turn them into links. Jinja's delimiters never survive ("{{", "{%",
"{#" all become escaped pairs): text that reaches a template field is not evaluated. Ordinary
text (words, snake_case names, digits, "-", ".", ",", "()", "%", "#" inside a line) is left as it is, so the
result still reads well where it is shown as plain text.
"""

from __future__ import annotations

import re

# Inline markup, anywhere in a line: code, emphasis, strikethrough, links and images, raw HTML,
# autolinks and entities, table cells, e-mail autolinks; "{" and "}" for Jinja's delimiters.
_ALWAYS = re.compile(r"[\\`*~\[\]<&|{}@]")
# "_" opens or closes emphasis only at the edge of a word: "street_address" stays as it is.
_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
# "{%" and "{#" (Jinja statements and comments): "\{%" would still hold "{%".
_AFTER_BRACE = re.compile(r"(?<=\{)[%#]")
# What opens a block at the start of a line: headings, quotes, lists, setext underlines,
# thematic breaks, ordered lists ("1." / "1)").
_LINE_START = re.compile(r"^(?:([#>+=-])|(\d{1,9})([.)]))")
# Autolink literals (GFM): "http://", "https://", "ftp://", protocol-relative "//", "www.";
# e-mail addresses are broken by their escaped "@".
_URL_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*)(:)(?=//)")
_DOUBLE_SLASH = re.compile(r"/(?=/)")
_WWW = re.compile(r"(?i)\b(www)(\.)")
# Whitespace and control characters (line breaks of every kind, tabs, NUL, DEL, C1 controls).
_BREAKS = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Bidirectional overrides and isolates: they reorder what the reader sees ("Trojan Source").
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def plain_line(value: object) -> str:
    """``value`` as one line of text: line breaks, tabs and control characters become single
    spaces, bidirectional overrides are dropped."""
    return _BREAKS.sub(" ", _BIDI.sub("", str(value))).strip()


def md_text(value: object) -> str:
    """``value`` as literal text in any Markdown position (one line; see the module's doc)."""
    text = plain_line(value)
    text = _ALWAYS.sub(r"\\\g<0>", text)
    text = _UNDERSCORE.sub(r"\\_", text)
    text = _AFTER_BRACE.sub(r"\\\g<0>", text)
    text = _URL_SCHEME.sub(r"\1\\\2", text)
    text = _WWW.sub(r"\1\\\2", text)
    text = _DOUBLE_SLASH.sub(lambda _: "/\\", text)
    return _LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)


def md_paragraphs(value: object) -> str:
    """Multi-paragraph text (blank lines between paragraphs) as literal Markdown paragraphs."""
    paragraphs = re.split(r"\n[ \t\r\f\v]*\n", str(value).replace("\r\n", "\n"))
    return "\n\n".join(text for text in (md_text(p) for p in paragraphs) if text)
