"""The demo's staff and its small, hand-shaped set of customers, written through customers.services.

Running it again changes nothing: staff and tags are fetched or created, and the customers are only
seeded when the well-known demo customer (王小明, 0912-345-678) is not there yet.
"""

import datetime as dt
import random
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from crm import roles
from crm.models import Team
from customers import services
from customers.models import Consent, ContactPoint, Customer, Interaction, SocialIdentity, Tag

from . import demo_data as d

TEAMS = {"taipei": "台北業務組", "shanghai": "上海销售组"}


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    team: str
    full_name: str
    extension: str
    timezone: str = "Asia/Taipei"

    @property
    def password(self) -> str:
        return f"demo-{self.username}-2026"


DEMO_USERS = [
    DemoUser("admin", roles.ADMIN, "taipei", "系統管理員", ""),
    DemoUser("manager", roles.MANAGER, "taipei", "黃志明", "301"),
    DemoUser("rep", roles.SALES_REP, "taipei", "張家豪", "201"),
    DemoUser("agent", roles.AGENT, "taipei", "林怡君", "101"),
    DemoUser("manager2", roles.MANAGER, "shanghai", "王建华", "302", "Asia/Shanghai"),
    DemoUser("rep2", roles.SALES_REP, "shanghai", "李静", "202", "Asia/Shanghai"),
    DemoUser("agent2", roles.AGENT, "shanghai", "周晓东", "102", "Asia/Shanghai"),
]
WELL_KNOWN_PHONE = "+886912345678"


@dataclass
class Login:
    user: object
    spec: DemoUser
    password_shown: str


@dataclass
class Staff:
    users: dict[str, object]
    teams: dict[str, Team]
    logins: list[Login] = field(default_factory=list)

    def owners(self, market: str) -> list:
        if market == d.CN:
            return [self.users["rep2"], self.users["manager2"]]
        return [self.users["rep"], self.users["rep"], self.users["manager"]]

    def agent(self, market: str):
        return self.users["agent2" if market == d.CN else "agent"]


def ensure_staff() -> Staff:
    """The two teams and one user per role in each, created once; passwords only set on creation."""
    User = get_user_model()
    teams = {key: Team.objects.get_or_create(name=name)[0] for key, name in TEAMS.items()}
    staff = Staff(users={}, teams=teams)
    for spec in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=spec.username,
            defaults={
                "first_name": spec.full_name,
                "email": f"{spec.username}@example.com",
                "team": teams[spec.team],
                "extension": spec.extension,
                "timezone": spec.timezone,
                "is_staff": spec.role == roles.ADMIN,
                "is_superuser": spec.role == roles.ADMIN,
            },
        )
        if created:
            user.set_password(spec.password)
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=spec.role))
        shown = spec.password if created or user.check_password(spec.password) else "(kept the existing one)"
        staff.users[spec.username] = user
        staff.logins.append(Login(user=user, spec=spec, password_shown=shown))
    for key, manager in (("taipei", "manager"), ("shanghai", "manager2")):
        team = teams[key]
        if team.manager_id is None:
            team.manager = staff.users[manager]
            team.save(update_fields=["manager"])
    return staff


def ensure_tags() -> dict[str, Tag]:
    return {
        name: Tag.objects.get_or_create(name=name, defaults={"color": color})[0] for name, color in d.TAGS
    }


def demo_present() -> bool:
    return ContactPoint.objects.filter(
        kind=ContactPoint.Kind.PHONE, normalised=WELL_KNOWN_PHONE, customer__name="王小明"
    ).exists()


# The hand-written customers: the ones a demo walks through. `entries` is the length of the history.
FEATURED = [
    {
        "name": "星辰科技股份有限公司", "market": d.TW, "kind": "organisation", "owner": "manager",
        "phones": ["(02)8101-2345#100"], "emails": ["service@starlight.example.com"],
        "tags": ["企業客戶", "VIP"], "stage": "customer", "source": "展覽會", "entries": 14,
        "attributes": {"統一編號": "24536806", "產業": "電子零組件"},
    },
    {
        "name": "上海恒信贸易有限公司", "market": d.CN, "kind": "organisation", "owner": "manager2",
        "phones": ["+86 21 6234 5678"], "emails": ["info@hengxin.example.com"],
        "tags": ["企業客戶"], "stage": "prospect", "source": "展会", "entries": 10,
        "attributes": {"统一社会信用代码": "91310000MA1FL0XX3K"},
    },
    {
        "name": "王小明", "market": d.TW, "owner": "rep", "phones": ["0912-345-678"],
        "emails": ["xiaoming.wang@example.com"], "tags": ["VIP", "回購客", "LINE好友"], "stage": "customer",
        "source": "門市", "entries": 60, "line": "小明 Wang", "marketing": "granted",
        "attributes": {"會員等級": "金卡", "偏好聯絡時段": "下午"},
    },
    {
        "name": "陳美玲", "market": d.TW, "owner": "manager", "phones": ["+886 921 888 666", "(02)2771-2345#305"],
        "emails": ["meiling.chen@example.com"], "tags": ["VIP", "電子報訂閱"], "stage": "customer",
        "source": "轉介紹", "entries": 25, "marketing": "granted", "attributes": {"會員等級": "白金卡"},
    },
    {
        "name": "林志豪", "market": d.TW, "owner": "rep", "phones": ["0935-112-233"],
        "organisation": "星辰科技股份有限公司", "tags": ["潛在客戶"], "stage": "lead", "source": "展覽會", "entries": 6,
        "attributes": {"職稱": "採購經理"},
    },
    {
        "name": "張雅婷", "market": d.TW, "owner": "rep", "phones": ["0988-777-111"], "tags": ["LINE好友", "新客"],
        "stage": "prospect", "source": "LINE官方帳號", "entries": 12, "line": "雅婷🌸", "marketing": "granted",
    },
    {
        "name": "李建國", "market": d.TW, "owner": "manager", "phones": ["(04)2326-5678"], "tags": ["流失風險"],
        "stage": "churned", "source": "電話進線", "entries": 9, "marketing": "withdrawn",
    },
    {
        "name": "黃淑芬", "market": d.TW, "owner": "rep", "phones": ["0910-123-456"],
        "emails": ["shufen@example.net"], "tags": ["回購客", "投訴處理中"], "stage": "customer",
        "source": "蝦皮商城", "entries": 18, "marketing": "granted",
    },
    {
        "name": "Kevin Chen", "market": d.EN, "owner": "rep", "phones": ["+886 955 321 987"],
        "emails": ["kevin.chen@example.com"], "organisation": "星辰科技股份有限公司", "tags": ["企業客戶"],
        "stage": "customer", "source": "Trade show", "entries": 11, "attributes": {"Title": "Operations Director"},
    },
    {
        "name": "Amy Lin", "market": d.EN, "owner": None, "phones": ["0975-246-810"], "emails": ["amy.lin@example.org"],
        "tags": ["電子報訂閱"], "stage": "lead", "source": "Website", "entries": 3, "marketing": "granted",
    },
    {
        "name": "王伟", "market": d.CN, "owner": "rep2", "phones": ["+86 138 0013 8000"], "tags": ["微信好友", "VIP"],
        "stage": "customer", "source": "微信公众号", "entries": 22, "wechat": "王伟 Wei", "marketing": "granted",
    },
    {
        "name": "李娜", "market": d.CN, "owner": "rep2", "phones": ["139-1234-5678"],
        "organisation": "上海恒信贸易有限公司", "tags": ["潛在客戶"], "stage": "prospect", "source": "展会",
        "entries": 8, "attributes": {"职位": "采购主管"},
    },
    {
        "name": "张伟", "market": d.CN, "owner": "manager2", "phones": ["+86 186 2100 3344"],
        "emails": ["zhang.wei@example.com"], "organisation": "上海恒信贸易有限公司", "tags": ["企業客戶"],
        "stage": "prospect", "source": "展会", "entries": 7,
    },
    {
        "name": "刘洋", "market": d.CN, "owner": "rep2", "phones": ["+86 135 0123 4567"],
        "tags": ["微信好友", "回購客"], "stage": "customer", "source": "天猫旗舰店", "entries": 15, "wechat": "阳阳",
        "marketing": "withdrawn",
    },
]  # fmt: skip
GENERATED_DEMO_CUSTOMERS = 90
HISTORY_DAYS = 120


@dataclass
class DemoTotals:
    customers: int = 0
    interactions: int = 0


@transaction.atomic
def seed_customers(staff: Staff, *, now: dt.datetime | None = None) -> DemoTotals:
    """The demo customers with a few months of history each, through the services' write path."""
    now = now or timezone.now()
    rng = random.Random(2026)
    totals = DemoTotals()
    organisations = {}
    seeded = []
    for spec in FEATURED:
        customer = _create(staff, spec, rng, now, organisations, totals)
        seeded.append(customer.pk)
        if customer.is_organisation:
            organisations[customer.name] = customer
    orgs_by_market = {d.TW: [], d.CN: [], d.EN: []}
    for index in range(GENERATED_DEMO_CUSTOMERS):
        market = rng.choices((d.TW, d.CN, d.EN), cum_weights=(55, 88, 100))[0]
        is_org = index % 15 == 0
        name = d.organisation_name(rng, market) if is_org else d.person_name(rng, market)
        spec = {
            "name": name,
            "market": market,
            "kind": "organisation" if is_org else "person",
            "owner": rng.choice([u.username for u in staff.owners(market)]) if rng.random() < 0.9 else None,
            "phones": _demo_phones(rng, index, market, is_org),
            "emails": [d.email_for(name, 0xD000 + index, rng)] if rng.random() < 0.4 else [],
            "stage": d.lifecycle(rng),
            "source": rng.choice(d.SOURCES[market]),
            "entries": rng.randint(2, 14),
            "marketing": rng.choices(["granted", "withdrawn", None], cum_weights=(55, 65, 100))[0],
        }
        spec["tags"] = _demo_tags(rng, market, is_org, spec["stage"])
        members = orgs_by_market[market]
        if not is_org and members and rng.random() < 0.2:
            spec["organisation"] = rng.choice(members).name
        if market == d.TW and "LINE好友" in spec["tags"]:
            spec["line"] = name[1:] if len(name) == 3 else name
        if market == d.CN and "微信好友" in spec["tags"]:
            spec["wechat"] = name
        customer = _create(staff, spec, rng, now, organisations, totals)
        seeded.append(customer.pk)
        if is_org:
            organisations[customer.name] = customer
            members.append(customer)
    # The timelines were backdated after record_interaction() wrote them.
    services.last_interaction_recompute(customer_ids=seeded)
    return totals


def _demo_phones(rng, index, market, is_org) -> list[str]:
    if is_org:
        if market == d.CN:
            return [f"+86 21 6{rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"]
        area, local = d.tw_landline(0xD000 + index)
        return [d.tw_landline_as_typed(area, local, str(rng.randrange(100, 200)))]
    digits = d.demo_mobile(index, market)
    if market == d.CN:
        return [d.cn_mobile_as_typed(digits, index)]
    phones = [d.tw_mobile_as_typed(digits, index)]
    if market == d.TW and rng.random() < 0.2:
        area, local = d.tw_landline(0xE000 + index)
        phones.append(d.tw_landline_as_typed(area, local))
    return phones


def _demo_tags(rng, market, is_org, stage) -> list[str]:
    tags = ["企業客戶"] if is_org else []
    if rng.random() < 0.45:
        tags.append("微信好友" if market == d.CN else "LINE好友")
    for name, chance, stages in (
        ("VIP", 0.1, None),
        ("回購客", 0.4, ("customer",)),
        ("潛在客戶", 0.5, ("lead", "prospect")),
        ("流失風險", 0.7, ("churned",)),
        ("新客", 0.15, ("lead", "prospect", "customer")),
        ("電子報訂閱", 0.15, None),
    ):
        if (stages is None or stage in stages) and rng.random() < chance:
            tags.append(name)
    return tags


def _create(staff, spec, rng, now, organisations, totals) -> Customer:
    market = spec["market"]
    owner = staff.users[spec["owner"]] if spec.get("owner") else None
    first_seen = now - dt.timedelta(
        days=rng.randint(HISTORY_DAYS - 30, HISTORY_DAYS), hours=rng.randint(0, 8)
    )
    customer = services.customer_create(
        actor=owner,
        name=spec["name"],
        kind=spec.get("kind", Customer.Kind.PERSON),
        organisation=organisations.get(spec.get("organisation")),
        owner=owner,
        lifecycle_stage=spec["stage"],
        source=spec.get("source", ""),
        tags=spec.get("tags", ()),
        custom_attributes=spec.get("attributes"),
        contacts=services.ContactInput(phones=spec.get("phones", []), emails=spec.get("emails", [])),
    )
    # Backdated so the list and the timeline read like a CRM that has been in use for months.
    Customer.objects.filter(pk=customer.pk).update(created_at=first_seen)
    customer.interactions.filter(kind=Interaction.Kind.SYSTEM).update(
        occurred_at=first_seen, created_at=first_seen
    )
    totals.customers += 1
    totals.interactions += 1
    moments = sorted(
        d.business_time(rng, first_seen + dt.timedelta(days=rng.randint(0, (now - first_seen).days)))
        for _ in range(spec["entries"])
    )
    for identity_provider in ("line", "wechat"):
        if spec.get(identity_provider):
            _social_identity(customer, identity_provider, spec[identity_provider], rng, first_seen)
            totals.interactions += 1
    if spec.get("marketing"):
        totals.interactions += _consents(customer, spec["marketing"], market, owner, rng, first_seen, now)
    for when in moments:
        kind, channel, summary, who, data = d.timeline_entry(rng, market)
        actor = owner if who == "owner" else staff.agent(market) if who == "agent" else None
        if kind == Interaction.Kind.NOTE and actor is not None:
            data = {"text": summary}
        services.record_interaction(
            customer=customer,
            kind=kind,
            channel=channel,
            summary=summary,
            occurred_at=min(when, now),
            actor=actor,
            data=data,
        )
        totals.interactions += 1
    return customer


def _social_identity(customer, provider, display_name, rng, first_seen) -> None:
    if provider == "line":
        external_id = "U" + "".join(rng.choices("0123456789abcdef", k=32))
        channel, channel_label, summary = "demo-line-oa", Interaction.Channel.LINE, "加入 LINE 官方帳號好友"
    else:
        external_id = "o" + "".join(
            rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", k=27)
        )
        channel, channel_label, summary = "demo-wechat-oa", Interaction.Channel.WECHAT, "关注公众号"
    followed_at = first_seen + dt.timedelta(hours=2)
    SocialIdentity.objects.create(
        customer=customer,
        provider=provider,
        channel=channel,
        external_id=external_id,
        display_name=display_name,
        followed=True,
        followed_at=followed_at,
    )
    services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.FOLLOW,
        channel=channel_label,
        summary=summary,
        occurred_at=followed_at,
        data={"provider": provider, "external_id": external_id},
    )


def _consents(customer, marketing, market, owner, rng, first_seen, now) -> int:
    """Marketing consent granted when the customer signed up, and for some withdrawn later."""
    channel = {d.TW: Consent.Channel.LINE, d.CN: Consent.Channel.WECHAT}.get(market, Consent.Channel.EMAIL)
    source = {d.TW: "LINE 加好友同意書", d.CN: "公众号关注授权"}.get(market, "Newsletter sign-up form")
    withdrawn_source = {d.TW: "客戶來電要求停止推播", d.CN: "客户要求停止推送"}.get(
        market, "Unsubscribe link"
    )
    written = 0
    events = [(True, first_seen + dt.timedelta(hours=3))]
    if marketing == "withdrawn":
        events.append((False, first_seen + dt.timedelta(days=rng.randint(20, 80))))
    for granted, when in events:
        consent = services.consent_record(
            customer=customer,
            actor=owner,
            purpose=Consent.Purpose.MARKETING,
            channel=channel,
            granted=granted,
            source=source if granted else withdrawn_source,
        )
        when = min(when, now)
        Consent.objects.filter(pk=consent.pk).update(occurred_at=when)
        Interaction.objects.filter(
            subject_type=ContentType.objects.get_for_model(Consent), subject_id=consent.pk
        ).update(occurred_at=when, created_at=when)
        written += 1
    return written
