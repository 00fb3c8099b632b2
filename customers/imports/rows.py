"""Turning one file row into a checked customer: the column mapping, each value's checks, matches."""

import re
from dataclasses import dataclass, field

import phonenumbers
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..models import ContactPoint, Customer
from ..normalise import email_normalise, phone_normalise
from ..permissions import customers_visible_to

NAME, PHONE, EMAIL, TAGS, OWNER, LIFECYCLE, SOURCE = (
    "name",
    "phone",
    "email",
    "tags",
    "owner",
    "lifecycle",
    "source",
)
ATTRIBUTE = "attribute"  # mapped as "attribute:<key>"
TARGETS = [
    ("", gettext_lazy("Ignore this column")),
    (NAME, gettext_lazy("Name")),
    (PHONE, gettext_lazy("Phone")),
    (EMAIL, gettext_lazy("E-mail")),
    (TAGS, gettext_lazy("Tags")),
    (OWNER, gettext_lazy("Owner (user name or e-mail)")),
    (LIFECYCLE, gettext_lazy("Lifecycle stage")),
    (SOURCE, gettext_lazy("Source")),
    (ATTRIBUTE, gettext_lazy("Custom attribute")),
]
TARGET_KEYS = {key for key, _label in TARGETS}
# Header words that say what a column holds, in the languages our users' files come in.
GUESSES = [
    (NAME, ("name", "full name", "customer", "姓名", "名稱", "名称", "客戶", "客户", "聯絡人", "联系人")),
    (PHONE, ("phone", "mobile", "tel", "cell", "電話", "电话", "手機", "手机", "行動", "號碼", "号码")),
    (EMAIL, ("email", "e-mail", "mail", "郵件", "邮件", "信箱", "邮箱")),
    (TAGS, ("tag", "tags", "標籤", "标签")),
    (OWNER, ("owner", "rep", "負責", "负责", "業務", "业务")),
    (LIFECYCLE, ("lifecycle", "stage", "status", "階段", "阶段")),
    (SOURCE, ("source", "來源", "来源", "channel")),
]
# The columns an error file adds: ignored when that file is imported again.
ERROR_FILE_COLUMNS = {"row", "problems", "列", "行", "問題", "问题"}
NATIONAL_SEPARATORS = re.compile(r"[\s\-().]")
NATIONAL_NUMBER = re.compile(r"0[1-9]\d{6,10}")  # trunk 0, then the national significant number
TAG_SEPARATORS = re.compile(r"[,;，；、|]")


def guess_mapping(header: list[str]) -> dict[str, str]:
    """A first mapping from the header's words; the user checks and corrects it."""
    mapping, taken = {}, set()
    for index, title in enumerate(header):
        text = title.strip().lower()
        target = ""
        if text in ERROR_FILE_COLUMNS or text in {str(_("Row")).lower(), str(_("Problems")).lower()}:
            mapping[str(index)] = ""
            continue
        for key, words in GUESSES:
            if text in words or any(word in text for word in words if len(word) > 3 or not word.isascii()):
                target = key
                break
        if target in (NAME, OWNER, LIFECYCLE, SOURCE) and target in taken:
            target = ""
        if not target and text:
            target = f"{ATTRIBUTE}:{title.strip()[:50]}"
        taken.add(target)
        mapping[str(index)] = target
    return mapping


def clean_mapping(mapping: dict, header: list[str]) -> dict[str, str]:
    """Keep only valid targets for existing columns; raise ValidationError when no column is the name."""
    cleaned = {}
    for key, target in (mapping or {}).items():
        if not str(key).isdigit() or int(key) >= len(header) or not isinstance(target, str):
            continue
        base, _sep, attribute = target.partition(":")
        if base not in TARGET_KEYS:
            continue
        if base == ATTRIBUTE:
            attribute = (attribute or header[int(key)]).strip()[:50]
            if not attribute:
                continue
            target = f"{ATTRIBUTE}:{attribute}"
        cleaned[str(int(key))] = target
    names = [k for k, t in cleaned.items() if t == NAME]
    if len(names) != 1:
        raise ValidationError(_("Choose exactly one column for the customer's name."))
    for single in (OWNER, LIFECYCLE, SOURCE):
        if sum(1 for t in cleaned.values() if t == single) > 1:
            raise ValidationError(_("Choose at most one column for each of owner, lifecycle and source."))
    return cleaned


@dataclass
class CheckedRow:
    number: int  # the row's line in the spreadsheet, header = 1
    values: list[str]
    name: str = ""
    phones: list[tuple[str, str, str]] = field(default_factory=list)  # (as typed, E.164, extension)
    emails: list[tuple[str, str]] = field(default_factory=list)  # (as typed, lower case)
    tags: list[str] = field(default_factory=list)
    owner_id: int | None = None
    owner_given: bool = False
    lifecycle: str = ""
    source: str = ""
    attributes: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    duplicate_of: int | None = None
    earlier_duplicate: bool = False  # same phone or e-mail as a row of an earlier batch
    all_match_ids: list[int] = field(default_factory=list)  # visible to the importer or not
    match_ids: list[int] = field(default_factory=list)
    hidden_match: bool = False
    action: str = ""  # create, update, skip, fail: decided before writing
    customer_id: int | None = None

    @property
    def keys(self) -> list[tuple[str, str]]:
        return [(ContactPoint.Kind.PHONE, e164) for _raw, e164, _ext in self.phones] + [
            (ContactPoint.Kind.EMAIL, email) for _raw, email in self.emails
        ]

    @property
    def problems(self) -> list[str]:
        problems = list(self.errors)
        if self.duplicate_of:
            problems.append(_("Same phone or e-mail as row %(row)d.") % {"row": self.duplicate_of})
        if self.earlier_duplicate:
            problems.append(_("Same phone or e-mail as an earlier row of the file."))
        if self.hidden_match:
            problems.append(_("The phone or e-mail belongs to a customer you cannot see."))
        if len(self.match_ids) > 1:
            problems.append(
                _("Matches %(count)d customers: merge them first, or create a new customer.")
                % {"count": len(self.match_ids)}
            )
        return problems


class RowChecker:
    """Checks rows against one mapping; owners and lifecycle names are read once, not per row."""

    def __init__(self, mapping: dict[str, str]):
        self.columns = sorted((int(index), target) for index, target in mapping.items() if target)
        self.owners = _owner_index() if any(t == OWNER for _i, t in self.columns) else {}
        self.lifecycles = _lifecycle_index()
        self.region = settings.PHONENUMBER_DEFAULT_REGION
        self.country_code = phonenumbers.country_code_for_region(self.region)

    def check(self, values: list[str], number: int) -> CheckedRow:
        row = CheckedRow(number=number, values=values)
        for index, target in self.columns:
            value = values[index].strip() if index < len(values) else ""
            if not value:
                continue
            if target == NAME:
                row.name = value[:200]
            elif target == PHONE:
                self._phone(row, value)
            elif target == EMAIL:
                try:
                    row.emails.append((value[:255], email_normalise(value)))
                except ValidationError as exc:
                    row.errors.extend(exc.messages)
            elif target == TAGS:
                row.tags.extend(t.strip()[:50] for t in TAG_SEPARATORS.split(value) if t.strip())
            elif target == OWNER:
                row.owner_given = True
                row.owner_id = self.owners.get(value.lower())
                if row.owner_id is None:
                    row.errors.append(_("Unknown owner “%(owner)s”.") % {"owner": value[:100]})
            elif target == LIFECYCLE:
                row.lifecycle = self.lifecycles.get(value.lower(), "")
                if not row.lifecycle:
                    row.errors.append(_("Unknown lifecycle stage “%(stage)s”.") % {"stage": value[:50]})
            elif target == SOURCE:
                row.source = value[:100]
            else:
                row.attributes[target.partition(":")[2]] = value[:1000]
        if not row.name:
            row.errors.append(_("The name is missing."))
        row.phones = _unique(row.phones, key=lambda p: (p[1], p[2]))
        row.emails = _unique(row.emails, key=lambda e: e[1])
        row.tags = _unique(row.tags, key=str.lower)
        return row

    def _national(self, text: str) -> tuple[str, str] | None:
        """The common case, a national number of the default region (0912-345-678, 02 2345 6789),
        checked without phonenumbers.parse(): half the cost of a row. Anything else, or a number
        that is not valid there, goes to phone_normalise(), which gives the same answer for these."""
        digits = NATIONAL_SEPARATORS.sub("", text)
        if not NATIONAL_NUMBER.fullmatch(digits):
            return None
        number = phonenumbers.PhoneNumber(country_code=self.country_code, national_number=int(digits[1:]))
        if not phonenumbers.is_valid_number_for_region(number, self.region):
            return None
        return f"+{self.country_code}{digits[1:]}", ""

    def _phone(self, row, value):
        # One cell may hold several numbers: "0912-345-678 / 02-2345-6789".
        for part in re.split(r"\s*[/;,，、]\s*|\n", value):
            if not part.strip():
                continue
            try:
                e164, extension = self._national(part) or phone_normalise(part)
            except ValidationError as exc:
                row.errors.extend(exc.messages)
            else:
                row.phones.append((part.strip()[:255], e164, extension))


def _unique(items, *, key):
    seen, out = set(), []
    for item in items:
        if key(item) not in seen:
            seen.add(key(item))
            out.append(item)
    return out


def _owner_index() -> dict[str, int]:
    index = {}
    for user in (
        get_user_model()
        .objects.filter(is_active=True)
        .only("id", "username", "email", "first_name", "last_name")
    ):
        for text in (user.username, user.email, user.get_full_name()):
            if text:
                index.setdefault(text.strip().lower(), user.pk)
    return index


def _lifecycle_index() -> dict[str, str]:
    from django.utils import translation

    index = {}
    for value, label in Customer.Lifecycle.choices:
        index[value] = value
        index[str(label).lower()] = value
        for language in ("en", "zh-hant", "zh-hans"):
            with translation.override(language):
                index[str(label).lower()] = value
    return index


def mark_duplicates(rows: list[CheckedRow], seen: dict) -> None:
    """Flag rows whose phone or e-mail an earlier row already had; `seen` (normalised value → row
    number) covers the rows checked together: a preview, or one batch of an import."""
    for row in rows:
        for key in row.keys:
            if key in seen and seen[key] != row.number:
                row.duplicate_of = seen[key]
                break
        if row.duplicate_of is None:
            for key in row.keys:
                seen[key] = row.number


def find_matches(rows: list[CheckedRow], *, user) -> None:
    """Fill each row's match_ids with the existing customers that share a phone or e-mail: one query
    for the batch, one more to keep only those `user` may see."""
    phones = {e164 for row in rows for _raw, e164, _ext in row.phones}
    emails = {email for row in rows for _raw, email in row.emails}
    if not phones and not emails:
        return
    condition = Q()
    if phones:
        condition |= Q(kind=ContactPoint.Kind.PHONE, normalised__in=phones)
    if emails:
        condition |= Q(kind=ContactPoint.Kind.EMAIL, normalised__in=emails)
    owners: dict[tuple[str, str], set[int]] = {}
    for kind, value, customer_id in ContactPoint.objects.filter(condition).values_list(
        "kind", "normalised", "customer_id"
    ):
        owners.setdefault((kind, value), set()).add(customer_id)
    all_ids = set().union(*owners.values()) if owners else set()
    visible = all_ids
    if user is not None and all_ids:
        visible = set(customers_visible_to(user).filter(pk__in=all_ids).values_list("pk", flat=True))
    for row in rows:
        ids = set()
        for key in row.keys:
            ids |= owners.get(key, set())
        row.all_match_ids = sorted(ids)
        row.hidden_match = bool(ids - visible)
        row.match_ids = sorted(ids & visible)
