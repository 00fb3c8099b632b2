"""python manage.py seed_segments_demo — a few shared segments and a static list for the demo. Safe to run again."""

from django.core.management.base import BaseCommand

from crm.models import User
from customers import selectors, services
from customers.models import Customer, Segment, Tag


class Command(BaseCommand):
    help = "Create demo segments (rules over tags, consent, LINE, activity) and a static list, once."

    def handle(self, *args, **options):
        admin = User.objects.filter(username="admin").first()
        if admin is None:
            self.stdout.write("Run seed_demo first: there is no demo admin.")
            return
        tags = dict(Tag.objects.values_list("name", "pk"))
        vip = [pk for name, pk in tags.items() if name.upper() == "VIP"]
        line_friends = [pk for name, pk in tags.items() if "LINE" in name.upper()]
        specs = [
            (
                "VIP 行銷同意",
                "VIP customers whose latest marketing consent is a yes.",
                [
                    {"field": "tags", "op": "any_of", "value": vip},
                    {"field": "consent", "op": "granted", "value": "marketing"},
                ]
                if vip
                else [{"field": "consent", "op": "granted", "value": "marketing"}],
            ),
            (
                "LINE 好友,90 天未互動",
                "LINE followers nobody has talked to for three months: a re-engagement broadcast.",
                [
                    {
                        "field": "channel_followed",
                        "op": "follows",
                        "value": {"provider": "line", "channel": ""},
                    },
                    {"field": "last_interaction", "op": "not_within_days", "value": 90},
                ],
            ),
            (
                "Warm leads",
                "Leads and prospects with three or more touches in 30 days, or tagged as LINE friends.",
                [
                    {"field": "lifecycle", "op": "in", "value": ["lead", "prospect"]},
                    {
                        "match": "any",
                        "rules": [
                            {
                                "field": "interaction_count",
                                "op": "at_least",
                                "value": {"kind": "", "count": 3, "days": 30},
                            },
                            *(
                                [{"field": "tags", "op": "any_of", "value": line_friends}]
                                if line_friends
                                else []
                            ),
                        ],
                    },
                ],
            ),
        ]
        for name, description, rules in specs:
            segment = Segment.objects.filter(name=name).first()
            if segment is None:
                segment = services.segment_save(
                    actor=admin,
                    name=name,
                    description=description,
                    rules={"match": "all", "rules": rules},
                    shared=True,
                    team=admin.team,
                )
            self.stdout.write(f"{segment.name}: {selectors.segment_count(segment=segment)} customers")
        static = Segment.objects.filter(name="本週回電 Call back this week").first()
        if static is None:
            static = services.segment_save(
                actor=admin, name="本週回電 Call back this week", kind=Segment.Kind.STATIC, shared=True
            )
            ids = Customer.objects.order_by("id").values_list("pk", flat=True)[:6]
            services.segment_members_add(actor=admin, segment=static, customer_ids=list(ids))
        self.stdout.write(f"{static.name}: {selectors.segment_count(segment=static)} customers")
