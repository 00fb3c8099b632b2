"""Two people drag the same card at the same moment: exactly one move wins, the other is told."""

import threading

import pytest
from django.db import connections

from customers.models import Interaction
from sales import services
from sales.models import Deal
from tests.factories import CustomerFactory

from .factories import DealFactory, stage


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_moves_of_the_same_version_exactly_one_wins(seed_data, rep, manager):
    deal = DealFactory(customer=CustomerFactory(owner=rep), owner=rep, title="Contested")
    targets = {"rep": (rep, stage("Qualified")), "manager": (manager, stage("Lost"))}
    barrier = threading.Barrier(len(targets))
    outcomes = {}

    def move(name):
        user, target = targets[name]
        try:
            barrier.wait(timeout=10)
            services.deal_move(deal=Deal(pk=deal.pk), stage=target, expected_version=1, actor=user)
            outcomes[name] = "moved"
        except services.DealConflict:
            outcomes[name] = "conflict"
        except Exception as exc:  # noqa: BLE001 - reported below
            outcomes[name] = repr(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=move, args=(name,)) for name in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert sorted(outcomes.values()) == ["conflict", "moved"], outcomes
    winner = next(name for name, outcome in outcomes.items() if outcome == "moved")
    deal.refresh_from_db()
    assert deal.version == 2 and deal.stage == targets[winner][1]
    assert Interaction.objects.filter(kind="deal", subject_id=deal.pk).count() == 1
