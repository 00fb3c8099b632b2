"""What the customers app itself holds about a customer, as registry providers (customers.registry)."""

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .models import (
    Consent,
    ContactPoint,
    Customer,
    CustomerGroupObjectPermission,
    CustomerLookup,
    CustomerUserObjectPermission,
    Interaction,
    SocialIdentity,
)
from .registry import ERASED, CustomerData, move_rows, register, rows, undo_rows

CONTACT_FIELDS = ("id", "kind", "value", "normalised", "extension", "label", "is_primary", "created_at")


# Profile: the customer row itself, its tags, shares, lookups and an organisation's members.


def _profile_move(*, loser, winner) -> dict:
    loser_tags = list(loser.tags.values_list("pk", flat=True))
    winner_tags = set(winner.tags.values_list("pk", flat=True))
    added = [pk for pk in loser_tags if pk not in winner_tags]
    if added:
        winner.tags.add(*added)
    if loser_tags:
        loser.tags.clear()
    members = move_rows(Customer.objects.exclude(pk=winner.pk), "organisation", loser, winner)
    lookups = move_rows(CustomerLookup.objects.all(), "customer", loser, winner)
    shares = {}
    for key, model, who in (
        ("user_shares", CustomerUserObjectPermission, "user_id"),
        ("group_shares", CustomerGroupObjectPermission, "group_id"),
    ):
        held = set(model.objects.filter(content_object=winner).values_list(who, "permission_id"))
        movable = [
            pk
            for pk, holder, permission in model.objects.filter(content_object=loser).values_list(
                "pk", who, "permission_id"
            )
            if (holder, permission) not in held
        ]
        model.objects.filter(pk__in=movable).update(content_object=winner)
        shares[key] = movable
    return {"tags_added": added, "loser_tags": loser_tags, "members": members, "lookups": lookups, **shares}


def _profile_undo(*, loser, winner, data) -> None:
    if data.get("tags_added"):
        winner.tags.remove(*data["tags_added"])
    if data.get("loser_tags"):
        loser.tags.add(*data["loser_tags"])
    undo_rows(Customer, "organisation", data.get("members"), loser, winner)
    undo_rows(CustomerLookup, "customer", data.get("lookups"), loser, winner)
    undo_rows(CustomerUserObjectPermission, "content_object", data.get("user_shares"), loser, winner)
    undo_rows(CustomerGroupObjectPermission, "content_object", data.get("group_shares"), loser, winner)


def _profile_export(*, customer) -> dict:
    profile = rows(
        Customer.objects.filter(pk=customer.pk),
        "id",
        "kind",
        "name",
        "organisation__name",
        "owner__username",
        "team__name",
        "lifecycle_stage",
        "source",
        "custom_attributes",
        "created_at",
        "updated_at",
    )
    return {"profile": profile, "tags": rows(customer.tags.all(), "name")}


def _profile_erase(*, customer) -> dict:
    Customer.objects.filter(pk=customer.pk).update(
        name=str(_("Erased customer #%(id)s") % {"id": customer.pk}), source="", custom_attributes={}
    )
    lookups = CustomerLookup.objects.filter(customer=customer).update(number="")
    return {"profile": 1, "lookups": lookups}


# Contact points: a value the winner already has is not copied twice; the loser's copy is removed
# and kept in the undo data so that undoing brings it back as it was.


def _contacts_move(*, loser, winner) -> dict:
    existing = set(winner.contact_points.values_list("kind", "normalised", "extension"))
    has_primary = set(winner.contact_points.filter(is_primary=True).values_list("kind", flat=True))
    moved, demoted, removed = [], [], []
    for point in loser.contact_points.all():
        if (point.kind, point.normalised, point.extension) in existing:
            removed.append(rows(ContactPoint.objects.filter(pk=point.pk), *CONTACT_FIELDS)[0])
            continue
        moved.append(point.pk)
        if point.is_primary and point.kind in has_primary:
            demoted.append(point.pk)
    ContactPoint.objects.filter(pk__in=[r["id"] for r in removed]).delete()
    ContactPoint.objects.filter(pk__in=moved).update(customer=winner)
    ContactPoint.objects.filter(pk__in=demoted).update(is_primary=False)
    return {"contact_points": moved, "demoted": demoted, "duplicates_removed": removed}


def _contacts_undo(*, loser, winner, data) -> None:
    undo_rows(ContactPoint, "customer", data.get("contact_points"), loser, winner)
    ContactPoint.objects.filter(pk__in=data.get("demoted") or [], customer=loser).update(is_primary=True)
    ContactPoint.objects.bulk_create(
        [ContactPoint(customer=loser, **row) for row in data.get("duplicates_removed") or []],
        ignore_conflicts=True,
    )


def _contacts_export(*, customer) -> dict:
    return {"contact_points": rows(customer.contact_points.order_by("pk"), *CONTACT_FIELDS)}


def _contacts_erase(*, customer) -> dict:
    count, _by_model = ContactPoint.objects.filter(customer=customer).delete()
    return {"contact_points": count}


def _identities_move(*, loser, winner) -> dict:
    return {"social_identities": move_rows(SocialIdentity.objects.all(), "customer", loser, winner)}


def _identities_undo(*, loser, winner, data) -> None:
    undo_rows(SocialIdentity, "customer", data.get("social_identities"), loser, winner)


def _identities_export(*, customer) -> dict:
    return {
        "social_identities": rows(
            customer.social_identities.order_by("pk"),
            "id",
            "provider",
            "channel",
            "external_id",
            "display_name",
            "avatar_url",
            "followed",
            "followed_at",
            "unfollowed_at",
            "created_at",
        )
    }


def _identities_erase(*, customer) -> dict:
    count = 0
    # One update per row: the external id must stay unique per channel.
    for pk in customer.social_identities.values_list("pk", flat=True):
        count += SocialIdentity.objects.filter(pk=pk).update(
            external_id=f"erased-{pk}", display_name="", avatar_url="", followed=False
        )
    return {"social_identities": count}


def _consents_move(*, loser, winner) -> dict:
    return {"consents": move_rows(Consent.objects.all(), "customer", loser, winner)}


def _consents_undo(*, loser, winner, data) -> None:
    undo_rows(Consent, "customer", data.get("consents"), loser, winner)


def _consents_export(*, customer) -> dict:
    return {
        "consents": rows(
            customer.consents.order_by("occurred_at", "pk"),
            "id",
            "purpose",
            "channel",
            "granted",
            "source",
            "occurred_at",
            "recorded_by__username",
        )
    }


def _consents_erase(*, customer) -> dict:
    # The consent history is the proof of what the person agreed to and when: it is kept.
    return {}


def _timeline_move(*, loser, winner) -> dict:
    return {"interactions": move_rows(Interaction.objects.all(), "customer", loser, winner)}


def _timeline_undo(*, loser, winner, data) -> None:
    undo_rows(Interaction, "customer", data.get("interactions"), loser, winner)


def _timeline_export(*, customer) -> dict:
    return {
        "timeline": rows(
            Interaction.objects.filter(customer=customer).order_by("occurred_at", "pk"),
            "id",
            "occurred_at",
            "kind",
            "channel",
            "summary",
            "actor__username",
            "data",
        )
    }


def _timeline_erase(*, customer) -> dict:
    """Entries keep their kind, channel and time (counts, reports); their words go."""
    count = 0
    queryset = Interaction.objects.filter(customer=customer)
    for kind, label in Interaction.Kind.choices:
        count += queryset.filter(kind=kind).update(summary=f"{label} {ERASED}", data={})
    count += queryset.filter(~Q(kind__in=Interaction.Kind.values)).update(summary=ERASED, data={})
    return {"interactions": count}


def register_all() -> None:
    for key, label, order, functions in (
        ("profile", _("Profile"), 10, (_profile_move, _profile_undo, _profile_export, _profile_erase)),
        ("contacts", _("Contacts"), 20, (_contacts_move, _contacts_undo, _contacts_export, _contacts_erase)),
        (
            "identities",
            _("Social identities"),
            30,
            (_identities_move, _identities_undo, _identities_export, _identities_erase),
        ),
        ("consents", _("Consent"), 40, (_consents_move, _consents_undo, _consents_export, _consents_erase)),
        ("timeline", _("Timeline"), 50, (_timeline_move, _timeline_undo, _timeline_export, _timeline_erase)),
    ):
        move, undo, export, erase = functions
        register(
            CustomerData(key=key, label=label, order=order, move=move, undo=undo, export=export, erase=erase)
        )
