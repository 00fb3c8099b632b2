"""Exporting a segment from its page: the segment's customers the user may see, masked as on screen, named
after the segment in the job and the access log."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from crm.models import AccessLog
from customers.models import Customer, DataJob, Segment, SegmentMember
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def segment(manager, rep):
    segment = Segment.objects.create(
        name="Autumn buyers", kind=Segment.Kind.STATIC, owner=manager, shared=True
    )
    inside = CustomerFactory(name="王小明", owner=rep, phones=["0912-345-678"])
    shell = CustomerFactory(name="王小明 (old)", owner=rep)
    Customer.objects.filter(pk=shell.pk).update(merged_into=inside)
    CustomerFactory(name="李大華", owner=rep)
    SegmentMember.objects.bulk_create([SegmentMember(segment=segment, customer=c) for c in (inside, shell)])
    return segment


def test_a_manager_exports_a_segment_from_its_page_and_it_is_logged_under_its_name(
    login, manager, segment, django_capture_on_commit_callbacks
):
    client = login(manager)
    page = client.get(reverse("customers:segment-detail", args=[segment.pk])).content.decode()
    url = reverse("customers:segment-export", args=[segment.pk])
    assert f'href="{url}"' in page
    confirm = client.get(url).content.decode()
    assert "1 customer: Segment “Autumn buyers”" in confirm
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"fmt": "csv"})
    job = DataJob.objects.get()
    assert response.url == reverse("customers:job", args=[job.pk])
    content = b"".join(client.get(reverse("customers:job-download", args=[job.pk])).streaming_content)
    text = content.decode("utf-8-sig")
    assert "王小明" in text and "(old)" not in text and "李大華" not in text
    assert "+886912345678" in text
    log = AccessLog.objects.get(action=AccessLog.Action.EXPORT)
    assert log.user == manager and log.count == 1 and log.filters["filter"] == "Segment “Autumn buyers”"


def test_a_user_without_contact_rights_gets_masked_numbers(
    login, rep, segment, django_capture_on_commit_callbacks
):
    rep.user_permissions.add(Permission.objects.get(codename="export_customers"))
    rep.groups.first().permissions.remove(Permission.objects.get(codename="view_contact_details"))
    client = login(rep)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("customers:segment-export", args=[segment.pk]), {"fmt": "csv"})
    job = DataJob.objects.get()
    with open(job.result_file.path, encoding="utf-8-sig") as handle:
        text = handle.read()
    assert "王小明" in text and "345" not in text
    assert AccessLog.objects.get().filters["contacts"] == "masked"


def test_no_export_without_the_permission_and_404_for_a_segment_one_may_not_see(
    login, agent, admin_user, segment
):
    assert login(agent).get(reverse("customers:segment-export", args=[segment.pk])).status_code in (403, 404)
    private = Segment.objects.create(name="Mine", kind=Segment.Kind.STATIC, owner=admin_user)
    from crm import roles
    from tests.factories import UserFactory

    other_manager = UserFactory(username="m2", role=roles.MANAGER)
    response = login(other_manager).get(reverse("customers:segment-export", args=[private.pk]))
    assert response.status_code == 404
    assert not DataJob.objects.exists()
