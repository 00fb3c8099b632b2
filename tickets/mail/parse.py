"""Read one raw RFC 5322 message: its thread headers, subject and sender (MIME encoded-words decoded),
the new text without the quoted history, and its attachments.

Mail from Taiwan and China often labels its charset narrowly (Big5, GB2312) while using characters of
the wider sets (cp950, GB18030); those labels are read with the wider codec.
"""

import email
import hashlib
import html
import re
from dataclasses import dataclass, field
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

WIDER_CHARSETS = {
    "big5": "cp950",
    "big5-hkscs": "big5hkscs",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "cp936": "gb18030",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
}
MESSAGE_ID = re.compile(r"<([^<>\s]{1,250})>")


@dataclass
class ParsedAttachment:
    name: str
    content_type: str
    data: bytes


@dataclass
class ParsedEmail:
    message_id: str
    in_reply_to: list[str]
    references: list[str]
    subject: str
    from_name: str
    from_address: str
    to_addresses: list[str]
    text: str  # the whole text part, quotes included
    attachments: list[ParsedAttachment] = field(default_factory=list)
    automatic: bool = False  # an auto-reply, a bounce or a list message: never opens a ticket

    @property
    def new_text(self) -> str:
        return strip_quoted(self.text)

    @property
    def thread_ids(self) -> list[str]:
        """The messages this one answers, nearest first."""
        ids = list(self.in_reply_to)
        ids += [ref for ref in reversed(self.references) if ref not in ids]
        return ids


def decode(data: bytes, charset: str | None) -> str:
    charset = (charset or "utf-8").strip().strip('"').lower()
    try:
        return data.decode(WIDER_CHARSETS.get(charset, charset), errors="replace")
    except LookupError:  # a charset name Python does not know
        return data.decode("utf-8", errors="replace")


def header_text(value) -> str:
    """A header with its MIME encoded-words (=?Big5?B?...?=) decoded, on one line."""
    if value is None:
        return ""
    parts = []
    for chunk, charset in decode_header(str(value)):
        parts.append(decode(chunk, charset) if isinstance(chunk, bytes) else chunk)
    return re.sub(r"\s+", " ", "".join(parts)).replace("\x00", "").strip()


def message_ids(value) -> list[str]:
    return MESSAGE_ID.findall(str(value or ""))


class _TextFromHtml(HTMLParser):
    BREAKS = {"br", "p", "div", "li", "tr", "blockquote", "h1", "h2", "h3", "h4"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "head"):
            self.skip += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("style", "script", "head"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextFromHtml()
    parser.feed(markup)
    parser.close()
    text = html.unescape("".join(parser.parts))
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()


def _filename(part: Message) -> str:
    name = part.get_param("filename", header="content-disposition") or part.get_param("name")
    if isinstance(name, tuple):  # RFC 2231: (charset, language, value)
        name = email.utils.collapse_rfc2231_value(name)
    return header_text(name) if name else ""


def parse_message(raw: bytes) -> ParsedEmail:
    message = email.message_from_bytes(raw)
    text = html_text = ""
    attachments = []
    for part in message.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        name = _filename(part)
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        payload = part.get_payload(decode=True) or b""
        if name or disposition == "attachment":
            attachments.append(
                ParsedAttachment(name=name or "attachment", content_type=content_type, data=payload)
            )
        elif content_type == "text/plain" and not text:
            text = decode(payload, part.get_content_charset())
        elif content_type == "text/html" and not html_text:
            html_text = html_to_text(decode(payload, part.get_content_charset()))
    text = (text or html_text).replace("\r\n", "\n").replace("\x00", "")
    message_id = next(iter(message_ids(message.get("Message-ID"))), "")
    if not message_id:  # without one, the content itself names the message, so a re-poll is still seen
        message_id = f"{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id"
    from_name, from_address = parseaddr(header_text(message.get("From")))
    auto = (message.get("Auto-Submitted") or "no").strip().lower()
    precedence = (message.get("Precedence") or "").strip().lower()
    return ParsedEmail(
        message_id=message_id,
        in_reply_to=message_ids(message.get("In-Reply-To")),
        references=message_ids(message.get("References")),
        subject=header_text(message.get("Subject")),
        from_name=from_name,
        from_address=from_address.strip().lower(),
        to_addresses=[
            a.lower() for _n, a in getaddresses([header_text(v) for v in message.get_all("To", [])])
        ],
        text=text,
        attachments=attachments,
        automatic=auto != "no"
        or precedence in ("bulk", "junk", "list")
        or from_address.lower().startswith(("mailer-daemon@", "postmaster@")),
    )


# Where the quoted history starts: the line itself and everything after it is dropped.
HISTORY_STARTS = [
    re.compile(r"^On\b.{0,300}\bwrote:\s*$", re.IGNORECASE),
    re.compile(
        r"^-{2,}\s*(Original Message|Forwarded message|原始邮件|原始郵件|原始信件|原始訊息)\s*-{2,}", re.I
    ),
    re.compile(r"^(寄件者|发件人|發件人|發信人|发信人)\s*[:：]"),
    re.compile(r"^在.{0,300}(写道|寫道)\s*[:：]?\s*$"),
    re.compile(r"^于.{0,300}(写道|寫道)\s*[:：]?\s*$"),
    re.compile(r"^_{20,}\s*$"),
]
# Outlook's "From: …" block counts only when header-like lines follow it.
OUTLOOK_FROM = re.compile(r"^\*?From\s*:\s*\S", re.IGNORECASE)
OUTLOOK_NEXT = re.compile(
    r"^\*?(Sent|Date|To|Subject|Cc|寄件日期|收件者|主旨|发送时间|收件人|主题)\s*[:：]", re.I
)


def strip_quoted(text: str) -> str:
    """The new part of a reply: cut at the first marker of quoted history, drop '>' lines.

    A two-line "On …,\\n… wrote:" (clients wrap it) is recognised too. If nothing is left, the text
    is returned whole rather than losing the customer's message.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    kept = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        joined = stripped + " " + lines[index + 1].strip() if index + 1 < len(lines) else stripped
        if any(p.match(stripped) for p in HISTORY_STARTS) or (
            stripped.lower().startswith("on ") and HISTORY_STARTS[0].match(joined)
        ):
            break
        if OUTLOOK_FROM.match(stripped) and any(
            OUTLOOK_NEXT.match(n.strip()) for n in lines[index + 1 : index + 4]
        ):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    result = "\n".join(kept).strip()
    return result or text.strip()
