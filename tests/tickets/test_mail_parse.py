"""Reading e-mails as Taiwanese and Chinese customers' clients send them: encoded-words, Big5 and GB2312
bodies, HTML-only mail, attachments, and the quoted history each client appends to a reply."""

import pytest

from tickets.mail.parse import parse_message, strip_quoted

from .mail_fixtures import make_email


def test_a_big5_message_from_a_taiwanese_client_reads_as_written():
    raw = make_email(
        subject="訂單查詢：包裹破損",
        body="您好，我的包裹破損了，請協助處理。",
        sender=("陳美麗", "Mei@Example.COM"),
        charset="big5",
    )
    raw = raw.replace(b"big5_tw", b"Big5")  # how Outlook and Thunderbird label it
    parsed = parse_message(raw)
    assert b"=?Big5?b?" in raw
    assert parsed.subject == "訂單查詢：包裹破損"
    assert parsed.from_name == "陳美麗"
    assert parsed.from_address == "mei@example.com"
    assert parsed.text.strip() == "您好，我的包裹破損了，請協助處理。"


def test_gb2312_labelled_mail_with_gbk_characters_is_read_with_gb18030():
    # "镕" is outside GB2312 but Chinese clients still label such mail gb2312.
    body = "朱镕基先生您好，发票有问题。"
    raw = make_email(subject="发票问题", body=body, sender=("王伟", "wang@example.cn"), charset="gb18030")
    raw = raw.replace(b"gb18030", b"gb2312")
    parsed = parse_message(raw)
    assert parsed.subject == "发票问题"
    assert parsed.text.strip() == body


def test_thread_headers_are_read_nearest_first():
    parsed = parse_message(
        make_email(
            message_id="<c@x>",
            in_reply_to="<b@crm>",
            references="<a@x>\r\n <b@crm>",
        )
    )
    assert parsed.message_id == "c@x"
    assert parsed.thread_ids == ["b@crm", "a@x"]


def test_a_message_without_message_id_still_has_a_stable_identity():
    raw = make_email(message_id=None)
    assert parse_message(raw).message_id == parse_message(raw).message_id
    assert parse_message(raw).message_id.endswith("@no-message-id")


def test_html_only_mail_becomes_text_and_attachments_are_kept():
    raw = make_email(
        body="",
        html="<html><head><style>p{}</style></head><body><p>Hi&nbsp;there</p><p>Second</p></body></html>",
        attachments=[("收據.pdf", "application/pdf", b"%PDF-1.4 test")],
    )
    parsed = parse_message(raw)
    assert parsed.text == "Hi\xa0there\n\nSecond"
    assert [(a.name, a.content_type, a.data) for a in parsed.attachments] == [
        ("收據.pdf", "application/pdf", b"%PDF-1.4 test")
    ]


def test_auto_replies_and_bounces_are_marked_automatic():
    assert parse_message(make_email(headers={"Auto-Submitted": "auto-replied"})).automatic
    assert parse_message(make_email(sender=("", "MAILER-DAEMON@mx.example.com"))).automatic
    assert not parse_message(make_email()).automatic


@pytest.mark.parametrize(
    "text",
    [
        "Thanks, that works.\n\nOn Mon, 23 Nov 2026 at 10:00, Support <support@example.com> wrote:\n> Try again\n",
        "Thanks, that works.\n\nOn Mon, 23 Nov 2026 at 10:00, Support Team\n<support@example.com> wrote:\n> Try\n",
        "Thanks, that works.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\n",
        "Thanks, that works.\n\nFrom: Support <support@example.com>\nSent: Monday, 23 November 2026 10:00\nTo: me\n",
        "Thanks, that works.\n\n-----原始邮件-----\n发件人: Support\n",
        "Thanks, that works.\n\n寄件者: Support <support@example.com>\n寄件日期: 2026年11月23日\n",
        "Thanks, that works.\n\n在 2026年11月23日 上午10:00，Support <support@example.com> 写道：\n> 请再试一次\n",
        "Thanks, that works.\n> quoted line\n> another",
    ],
)
def test_the_quoted_history_of_each_client_is_stripped(text):
    assert strip_quoted(text) == "Thanks, that works."


def test_a_message_that_is_only_quotes_is_kept_whole():
    assert strip_quoted("> only a quote") == "> only a quote"


def test_a_line_starting_with_from_in_the_customers_own_words_is_kept():
    text = "From: my neighbour's address the parcel was returned.\nPlease check."
    assert strip_quoted(text) == text
