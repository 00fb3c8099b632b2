"""The duplicate scan finds customers who are probably one person, and remembers "not a duplicate"."""

import pytest

from customers import dedup
from customers.merging import customer_merge
from customers.models import ContactPoint, DuplicateCandidate, SocialIdentity
from tests.factories import CustomerFactory


def _pair(a, b):
    low, high = sorted((a.pk, b.pk))
    return DuplicateCandidate.objects.get(customer_a_id=low, customer_b_id=high)


@pytest.mark.django_db
def test_the_same_number_typed_two_ways_makes_a_pair_scored_higher_when_names_are_alike(rep):
    wang = CustomerFactory(name="Wang Xiaoming", owner=rep, phones=["0912-345-678"])
    wang_again = CustomerFactory(name="Wang Xiao Ming", owner=rep, phones=["+886 912 345 678"])
    stranger = CustomerFactory(name="Lin Meihui", owner=rep, phones=["886912345678"])
    CustomerFactory(name="Someone else", owner=rep, phones=["0987-654-321"])

    counts = dedup.duplicates_scan()

    assert counts["found"] == 3
    alike, unlike = _pair(wang, wang_again), _pair(wang, stranger)
    assert alike.reason == unlike.reason == DuplicateCandidate.Reason.PHONE
    assert alike.score > unlike.score >= 0.6


@pytest.mark.django_db
def test_same_email_line_account_and_similar_name_in_one_organisation_are_found(rep):
    org = CustomerFactory(name="Harbor Trading", kind="organisation", owner=rep)
    a = CustomerFactory(name="Amy Chen", owner=rep, emails=["Amy@Example.com"])
    b = CustomerFactory(name="A. Chen", owner=rep, emails=["amy@example.com"])
    c = CustomerFactory(name="Kevin Wu", owner=rep)
    d = CustomerFactory(name="Kevin", owner=rep)
    for customer in (c, d):
        SocialIdentity.objects.create(
            customer=customer, provider="line", channel=f"oa-{customer.pk}", external_id="U9"
        )
    e = CustomerFactory(name="Jason Lee", owner=rep, organisation=org)
    f = CustomerFactory(name="Jason Lee", owner=rep, organisation=org)
    CustomerFactory(name="Mary Wong", owner=rep, organisation=org)
    ContactPoint.objects.filter(customer=a).update(normalised="amy@example.com")

    dedup.duplicates_scan()

    assert _pair(a, b).reason == DuplicateCandidate.Reason.EMAIL
    assert _pair(c, d).reason == DuplicateCandidate.Reason.SOCIAL
    assert _pair(e, f).reason == DuplicateCandidate.Reason.NAME_ORGANISATION
    assert DuplicateCandidate.objects.count() == 3


@pytest.mark.django_db
def test_a_pair_marked_not_a_duplicate_stays_so_after_the_next_scan(rep, manager):
    a = CustomerFactory(owner=rep, phones=["0912-000-111"])
    b = CustomerFactory(owner=rep, phones=["0912-000-111"])
    dedup.duplicates_scan()

    dedup.candidate_mark_not_duplicate(actor=manager, candidate=_pair(a, b))
    dedup.duplicates_scan()

    assert _pair(a, b).status == DuplicateCandidate.Status.NOT_DUPLICATE
    assert not dedup.candidates_for_review(user=manager).exists()


@pytest.mark.django_db
def test_a_pair_no_longer_matching_and_merged_records_drop_out(
    rep, manager, django_capture_on_commit_callbacks
):
    CustomerFactory(owner=rep, phones=["0912-000-111"])
    b = CustomerFactory(owner=rep, phones=["0912-000-111"])
    c = CustomerFactory(owner=rep, emails=["c@example.com"])
    d = CustomerFactory(owner=rep, emails=["c@example.com"])
    dedup.duplicates_scan()

    ContactPoint.objects.filter(customer=b).update(normalised="+886912999999")
    with django_capture_on_commit_callbacks(execute=True):
        customer_merge(actor=manager, winner=c, loser=d)
    dedup.duplicates_scan()

    assert not DuplicateCandidate.objects.filter(status="open").exists()
    assert _pair(c, d).status == DuplicateCandidate.Status.MERGED


@pytest.mark.django_db
def test_a_number_shared_by_many_customers_is_not_evidence(rep):
    for _ in range(dedup.MAX_GROUP + 1):
        CustomerFactory(owner=rep, phones=["02-2345-6789"])

    assert dedup.duplicates_scan()["found"] == 0


@pytest.mark.django_db
def test_review_list_only_shows_pairs_whose_both_customers_the_user_may_see(rep, other_team, manager):
    from tests.factories import UserFactory

    outsider = UserFactory(role="Sales rep", team=other_team)
    CustomerFactory(owner=rep, phones=["0912-000-222"])
    CustomerFactory(owner=outsider, phones=["0912-000-222"])
    dedup.duplicates_scan()

    assert not dedup.candidates_for_review(user=manager).exists()


@pytest.mark.django_db
def test_duplicates_page_lists_pairs_with_reason_and_score_in_few_queries(
    rep, manager, login, django_assert_max_num_queries
):
    for index in range(30):
        CustomerFactory(owner=rep, phones=[f"0912-000-{index:03d}"])
        CustomerFactory(owner=rep, phones=[f"0912-000-{index:03d}"])
    dedup.duplicates_scan()
    client = login(manager)

    with django_assert_max_num_queries(15):
        response = client.get("/customers/duplicates/")

    body = response.content.decode()
    assert body.count('data-testid="duplicate-row"') == 25
    assert "Same phone number" in body and "?status=open&page=2" in body


@pytest.mark.django_db
def test_not_a_duplicate_button_takes_the_pair_off_the_list(rep, manager, login):
    a = CustomerFactory(owner=rep, phones=["0912-000-111"])
    b = CustomerFactory(owner=rep, phones=["0912-000-111"])
    dedup.duplicates_scan()
    client = login(manager)

    client.post(f"/customers/duplicates/{_pair(a, b).pk}/dismiss/")
    response = client.get("/customers/duplicates/")

    assert 'data-testid="duplicates-empty"' in response.content.decode()


@pytest.mark.django_db
def test_scan_now_runs_the_scan(rep, manager, login, django_capture_on_commit_callbacks):
    CustomerFactory(owner=rep, phones=["0912-000-111"])
    CustomerFactory(owner=rep, phones=["0912-000-111"])

    with django_capture_on_commit_callbacks(execute=True):
        response = login(manager).post("/customers/duplicates/scan/")

    assert response.status_code == 302
    assert DuplicateCandidate.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_scans_and_merges_running_together_neither_deadlock_nor_fail(seed_data, rep, manager):
    import threading

    from django.db import connections

    from customers.models import Customer

    pairs = []
    for index in range(6):
        a = CustomerFactory(owner=rep, phones=[f"0912-100-{index:03d}"])
        b = CustomerFactory(owner=rep, phones=[f"0912-100-{index:03d}"])
        pairs.append((a.pk, b.pk))
    dedup.duplicates_scan()
    barrier = threading.Barrier(3)
    errors = []

    def scan():
        try:
            barrier.wait(timeout=10)
            for _ in range(3):
                dedup.duplicates_scan()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    def merge(chunk):
        try:
            barrier.wait(timeout=10)
            for first, second in chunk:
                customer_merge(actor=manager, winner=Customer(pk=first), loser=Customer(pk=second))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=scan),
        threading.Thread(target=merge, args=(pairs[:3],)),
        threading.Thread(target=merge, args=(pairs[3:],)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert Customer.objects.filter(merged_into__isnull=False).count() == 6
    assert DuplicateCandidate.objects.filter(status="merged").count() == 6
    assert not DuplicateCandidate.objects.filter(status="open").exists()
