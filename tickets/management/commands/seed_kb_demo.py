"""python manage.py seed_kb_demo — knowledge-base articles and canned replies for the demo. Safe to run again."""

from django.core.management.base import BaseCommand

from crm.models import User
from tickets.models import Article, CannedReply, Category
from tickets.services import knowledge as kb

ARTICLES = [
    (
        "Technical/Login",
        "無法登入 App 怎麼辦",
        "1. 確認帳號是註冊時的手機號碼或 e-mail。\n2. 在登入頁按「忘記密碼」重設密碼,簡訊驗證碼 5 分鐘內有效。\n"
        "3. 仍無法登入時,請清除 App 快取或重新安裝。\n\n"
        "If the customer still cannot sign in, open a ticket in Technical › Login "
        "with the phone model and app version.",
    ),
    (
        "Billing/Refund",
        "退款流程與時間",
        "申請退款需要訂單編號。信用卡退款約 7 到 14 個工作天退回原卡;LINE Pay 約 3 個工作天。\n\n"
        "部分退款請在工單中註明品項與金額,由主管核准。",
    ),
    (
        "Billing/Invoice",
        "如何下载电子发票",
        "登录会员中心 → 我的订单 → 选择订单 → 点击「电子发票」即可下载 PDF。\n\n"
        "公司抬头与税号须在下单时填写,开票后无法更改。",
    ),
    (
        "Delivery",
        "How to change a delivery address",
        "Addresses can be changed until the order is packed (status “Preparing”). "
        "Edit it under My orders → Delivery.\n\n"
        "After that, ask the courier to redirect the parcel; redirection may cost NT$60.",
    ),
]
REPLIES = [
    (
        "問候 Greeting",
        "hi",
        "{{ customer.first_name }} 您好,我是客服 {{ agent.name }},很高興為您服務。關於案件 #{{ ticket.number }},",
    ),
    (
        "退款說明 Refund",
        "refund",
        "{{ customer.name }} 您好,退款已受理,信用卡約 7–14 個工作天退回原卡。如有疑問請回覆此訊息。",
    ),
    (
        "Closing",
        "bye",
        "Thank you, {{ customer.first_name }}. I'll close ticket #{{ ticket.number }} now; reply any time if anything "
        "else comes up.\n{{ agent.name }}",
    ),
]


class Command(BaseCommand):
    help = "Create demo knowledge-base articles (published and a draft) and canned replies, once."

    def handle(self, *args, **options):
        admin = User.objects.filter(username="admin").first()
        if admin is None:
            self.stdout.write("Run seed_demo first: there is no demo admin.")
            return
        for path, title, body in ARTICLES:
            if Article.objects.filter(title=title).exists():
                continue
            category = _category(path)
            version = kb.article_save(actor=admin, title=title, body=body, category=category)
            kb.article_publish(actor=admin, article=version.article)
        if not Article.objects.filter(title="新版會員等級說明(草稿)").exists():
            kb.article_save(actor=admin, title="新版會員等級說明(草稿)", body="2027 年起會員等級改為三級……")
        for title, shortcut, body in REPLIES:
            if not CannedReply.objects.filter(title=title).exists():
                kb.canned_reply_save(actor=admin, title=title, shortcut=shortcut, body=body, shared=True)
        self.stdout.write(
            f"{Article.objects.count()} articles, {CannedReply.objects.count()} canned replies."
        )


def _category(path: str):
    parent = None
    for name in path.split("/"):
        parent = Category.objects.filter(name=name, parent=parent).first()
        if parent is None:
            return None
    return parent
