import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from crm import followups, pubsub
from customers.models import Interaction
from sales import services
from sales.models import Deal, Task
from tests.factories import CustomerFactory

from .factories import CadenceFactory, DealFactory, LostReasonFactory, ProductFactory, TaskFactory, stage

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def deal_entries(deal):
    return list(
        Interaction.objects.filter(customer=deal.customer, kind="deal", subject_id=deal.pk).order_by("id")
    )


# Deals -------------------------------------------------------------------------------------------


def test_creating_a_deal_starts_in_the_first_stage_and_goes_on_the_timeline(rep, customer):
    deal = services.deal_create(actor=rep, customer=customer, title="  Website redesign ", amount="250000")

    assert deal.stage == stage("New") and deal.status == "open" and deal.version == 1
    assert deal.owner == rep and deal.team == rep.team and deal.title == "Website redesign"
    (entry,) = deal_entries(deal)
    assert entry.summary == "Deal created: Website redesign (New, TWD 250,000)" and entry.actor == rep


def test_a_deal_needs_a_title_and_a_positive_amount_and_nothing_is_saved_otherwise(rep, customer):
    with pytest.raises(ValidationError) as error:
        services.deal_create(actor=rep, customer=customer, title=" ", amount="-5", currency="XXX")

    assert set(error.value.message_dict) == {"title", "amount", "currency"}
    assert not Deal.objects.exists() and not Interaction.objects.filter(kind="deal").exists()


def test_a_rep_cannot_open_a_deal_for_a_customer_they_cannot_see(rep, other_team):
    stranger = CustomerFactory(name="Not mine")
    with pytest.raises(PermissionDenied):
        services.deal_create(actor=rep, customer=stranger, title="Sneaky")
    assert not Deal.objects.exists()


def test_moving_a_deal_records_stage_change_with_who_and_when(rep, deal):
    moved = services.deal_move(
        deal=deal, stage=stage("Qualified"), expected_version=deal.version, actor=rep, now=NOW
    )

    assert moved.stage == stage("Qualified") and moved.version == deal.version + 1
    assert moved.stage_changed_at == NOW and moved.last_activity_at == NOW
    (entry,) = deal_entries(deal)
    assert entry.summary == "Deal “ERP rollout”: stage changed from “New” to “Qualified”"
    assert entry.actor == rep and entry.occurred_at == NOW
    assert entry.data["from_name"] == "New" and entry.data["to_name"] == "Qualified"


def test_moving_with_a_stale_version_raises_a_clear_conflict_and_changes_nothing(rep, other_rep, deal):
    seen_by_rep = deal.version
    services.deal_move(deal=deal, stage=stage("Proposal"), expected_version=seen_by_rep, actor=rep)
    entries_before = len(deal_entries(deal))

    with pytest.raises(services.DealConflict) as conflict:
        services.deal_move(deal=deal, stage=stage("Lost"), expected_version=seen_by_rep, actor=rep)

    assert "changed “ERP rollout” while you were looking at it; nothing was saved" in conflict.value.message
    assert conflict.value.deal.stage == stage("Proposal")
    deal.refresh_from_db()
    assert deal.stage == stage("Proposal") and deal.status == "open" and deal.version == seen_by_rep + 1
    assert len(deal_entries(deal)) == entries_before


def test_winning_closes_the_deal_and_creates_one_after_sale_follow_up(rep, deal):
    deal.after_sale_follow_up_on = dt.date(2027, 1, 15)
    deal.save()
    won = services.deal_move(deal=deal, stage=stage("Won"), expected_version=deal.version, actor=rep)
    reopened = services.deal_move(
        deal=won, stage=stage("Negotiation"), expected_version=won.version, actor=rep
    )
    services.deal_move(deal=reopened, stage=stage("Won"), expected_version=reopened.version, actor=rep)

    deal.refresh_from_db()
    assert deal.status == "won" and deal.closed_at is not None
    (task,) = Task.objects.filter(deal=deal)
    assert task.title == "After-sale follow-up: ERP rollout" and task.assignee == rep
    assert timezone.localtime(task.due_at).date() == dt.date(2027, 1, 15)


def test_losing_keeps_the_reason_and_reopening_clears_it(rep, deal):
    reason = LostReasonFactory(name="Price too high")
    lost = services.deal_move(
        deal=deal, stage=stage("Lost"), expected_version=deal.version, actor=rep, lost_reason=reason
    )
    assert lost.status == "lost" and lost.lost_reason == reason
    assert deal_entries(deal)[-1].summary.endswith("“Lost” — Price too high")

    reopened = services.deal_move(deal=lost, stage=stage("New"), expected_version=lost.version, actor=rep)
    assert reopened.status == "open" and reopened.lost_reason is None and reopened.closed_at is None


def test_amount_and_owner_changes_are_written_to_the_timeline(rep, other_rep, deal):
    services.deal_update(deal=deal, actor=rep, expected_version=deal.version, amount=Decimal("150000.5"))
    deal.refresh_from_db()
    services.deal_update(deal=deal, actor=rep, owner=other_rep, title="ERP rollout")

    summaries = [entry.summary for entry in deal_entries(deal)]
    assert summaries == [
        "Deal “ERP rollout”: amount changed from “TWD 120,000” to “TWD 150,000.50”",
        f"Deal “ERP rollout”: owner changed from “{rep}” to “{other_rep}”",
    ]
    deal.refresh_from_db()
    assert deal.owner == other_rep and deal.team == other_rep.team and deal.version == 3


def test_an_update_that_changes_nothing_keeps_the_version(rep, deal):
    services.deal_update(deal=deal, actor=rep, title="ERP rollout", amount=Decimal("120000"))
    deal.refresh_from_db()
    assert deal.version == 1 and not deal_entries(deal)


def test_line_items_set_the_amount(rep, deal):
    product = ProductFactory(name="License", unit_price=Decimal("3000"))
    services.line_item_add(deal=deal, actor=rep, product=product, quantity=5)
    item = services.line_item_add(deal=deal, actor=rep, description="Setup", unit_price="2500")
    deal.refresh_from_db()
    assert deal.amount == Decimal("17500")

    services.line_item_remove(item=item, actor=rep)
    deal.refresh_from_db()
    assert deal.amount == Decimal("15000")


def test_agents_see_deals_but_may_not_change_them(agent, deal):
    with pytest.raises(PermissionDenied):
        services.deal_move(deal=deal, stage=stage("Qualified"), expected_version=deal.version, actor=agent)


# Tasks -------------------------------------------------------------------------------------------


def test_completing_a_task_writes_the_timeline_once(rep, customer):
    task = services.task_create(
        actor=rep, title="Send the quote", due_at=NOW + dt.timedelta(days=1), customer=customer
    )
    first = services.task_complete(task=task, actor=rep, note="Sent by e-mail", now=NOW)
    again = services.task_complete(task=task, actor=rep, now=NOW + dt.timedelta(minutes=5))

    assert first.task.done_at == NOW and first.task.done_by == rep and again.already_done
    summaries = list(
        Interaction.objects.filter(customer=customer, kind="task")
        .order_by("id")
        .values_list("summary", flat=True)
    )
    assert summaries == ["Follow-up task: Send the quote", "Task done: Send the quote — Sent by e-mail"]


def test_a_task_on_a_deal_refreshes_the_deal_activity(rep, deal):
    task = services.task_create(actor=rep, title="Call", due_at=NOW, deal=deal)
    assert task.customer == deal.customer
    services.task_complete(task=task, actor=rep, now=NOW)
    deal.refresh_from_db()
    assert deal.last_activity_at == NOW


def test_a_task_needs_a_title_and_nothing_is_saved_otherwise(rep, customer):
    with pytest.raises(ValidationError) as error:
        services.task_create(actor=rep, title="", due_at=None, customer=customer, priority=9)
    assert set(error.value.message_dict) == {"title", "due_at", "priority"}
    assert not Task.objects.exists() and not Interaction.objects.filter(kind="task").exists()


def test_no_answer_with_a_cadence_schedules_the_next_call_three_days_later(rep, customer):
    cadence = CadenceFactory()
    task = services.task_create(actor=rep, title="Call back", due_at=NOW, customer=customer, cadence=cadence)

    second = services.task_complete(task=task, actor=rep, outcome="no_answer", now=NOW).next_task
    assert second.due_at == NOW + dt.timedelta(days=3) and second.attempt == 2
    assert second.title == "Call back (attempt 2)" and second.assignee == rep and second.previous == task

    third = services.task_complete(task=second, actor=rep, outcome="no_answer", now=second.due_at).next_task
    assert third.attempt == 3 and third.due_at == NOW + dt.timedelta(days=6)
    # the cadence allows three calls: the third unanswered call ends it
    assert (
        services.task_complete(task=third, actor=rep, outcome="no_answer", now=third.due_at).next_task is None
    )
    # an answered call ends it at once
    other = services.task_create(actor=rep, title="Other", due_at=NOW, customer=customer, cadence=cadence)
    assert services.task_complete(task=other, actor=rep, outcome="done", now=NOW).next_task is None
    assert Task.objects.filter(done_at__isnull=True).count() == 0


def test_a_call_wrap_up_follow_up_now_creates_a_real_task(agent, customer):
    task = followups.create(
        followups.FollowUp(
            kind=followups.TASK,
            customer=customer,
            title="Follow up on the call with 王小明",
            actor=agent,
            assignee=agent,
            due_at=NOW + dt.timedelta(days=1),
            note="Wants a brochure",
            data={"call_id": "c-42"},
        )
    )

    assert isinstance(task, Task)
    assert task.assignee == agent and task.customer == customer and task.note == "Wants a brochure"
    assert task.created_by == agent and task.remind_at == task.due_at
    entry = Interaction.objects.get(customer=customer, kind="task")
    assert entry.data["call_id"] == "c-42" and entry.data["task"] == task.pk


def test_a_missed_call_creates_an_unassigned_team_task_with_the_no_answer_cadence(customer, team):
    from callcenter.models import Call

    CadenceFactory()
    call = Call.objects.create(call_id="missed-1", direction="inbound", state="missed", customer=customer)
    task = followups.create(
        followups.FollowUp(
            kind=followups.TASK, customer=customer, title="Call back", team=team, source=call, due_at=NOW
        )
    )
    assert task.assignee is None and task.team == team and task.source == call
    assert task.cadence.name == "Call again in 3 days if no answer"


# Reminders ---------------------------------------------------------------------------------------


def test_reminders_are_sent_once_at_the_due_time(rep, customer, monkeypatch):
    published = []
    monkeypatch.setattr(
        pubsub, "publish", lambda channel, event, data: published.append((channel, event, data))
    )
    due = TaskFactory(title="Call 王小明", assignee=rep, customer=customer, due_at=NOW)
    later = TaskFactory(title="Later", assignee=rep, due_at=NOW + dt.timedelta(hours=1))
    TaskFactory(title="Done already", assignee=rep, due_at=NOW, done_at=NOW)
    TaskFactory(title="No reminder", assignee=rep, due_at=NOW, remind_at=None)

    assert services.reminders_send_due(now=NOW - dt.timedelta(minutes=1)) == 0
    assert services.reminders_send_due(now=NOW) == 1
    assert services.reminders_send_due(now=NOW + dt.timedelta(minutes=1)) == 0

    (channel, event, html) = published[0]
    assert (channel, event) == (f"user:{rep.pk}", "notify") and "Call 王小明" in html
    assert len(published) == 1
    (message,) = mail.outbox
    assert message.to == [rep.email] and message.subject == "Follow-up due: Call 王小明"
    due.refresh_from_db()
    later.refresh_from_db()
    assert due.reminder_sent_at == NOW and later.reminder_sent_at is None

    assert services.reminders_send_due(now=NOW + dt.timedelta(hours=1)) == 1


def test_reminders_go_out_in_bounded_batches(rep, monkeypatch):
    monkeypatch.setattr(pubsub, "publish", lambda *args: 1)
    TaskFactory.create_batch(7, assignee=rep, due_at=NOW)
    assert services.reminders_send_due(now=NOW, batch_size=3, max_batches=2) == 6
    assert services.reminders_send_due(now=NOW, batch_size=3, max_batches=2) == 1


def test_rescheduling_a_task_sends_its_reminder_again(rep, monkeypatch):
    monkeypatch.setattr(pubsub, "publish", lambda *args: 1)
    task = TaskFactory(assignee=rep, due_at=NOW)
    services.reminders_send_due(now=NOW)
    services.task_update(task=task, actor=rep, due_at=NOW + dt.timedelta(days=1))
    task.refresh_from_db()
    assert task.reminder_sent_at is None and task.remind_at == NOW + dt.timedelta(days=1)


def test_the_beat_task_is_registered_and_scheduled(settings):
    from crm.celery import app
    from sales.tasks import send_due_reminders

    assert send_due_reminders.name == "sales.send_due_reminders"
    assert settings.CELERY_BEAT_SCHEDULE["sales-send-due-reminders"]["task"] == "sales.send_due_reminders"
    assert "sales.send_due_reminders" in app.tasks
    assert send_due_reminders.delay().get() == 0


def test_closed_deal_factory_sanity(customer):
    assert DealFactory(customer=customer, stage=stage("Won")).status == "won"
