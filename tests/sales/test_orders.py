"""Orders on their pages, the CSV import with per-line errors, and the 360 page's orders panel."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from customers.models import Interaction
from sales import orders
from sales.models import Order
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CSV = """order_number,date,channel,amount,currency,phone,email,customer_name,sku,description,quantity,unit_price
A-1,2026-11-01,store,,TWD,0912-345-678,,,TEA,烏龍茶,2,350
A-1,2026-11-01,store,,TWD,0912-345-678,,,BOX,Gift box,1,120
A-2,2026/11/02 10:30,line,999,,,new@example.com,陳大文,,,,
A-3,yesterday,store,100,,0912-345-678,,,,,,
A-4,2026-11-03,fax,100,,0912-345-678,,,,,,
,2026-11-03,store,100,,0912-345-678,,,,,,
A-5,2026-11-03,web,abc,,0912-345-678,,,,,,
"""


def upload(client, text, name="orders.csv"):
    return client.post(
        "/sales/orders/import/",
        {"file": SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")},
    )


def test_a_manager_imports_orders_and_sees_what_failed_line_by_line(login, manager, customer):
    response = upload(login(manager), CSV)
    assert response.status_code == 200
    result = response.context["result"]
    assert (result.created, result.existing) == (2, 0)
    assert [line for line, _message in result.errors] == [5, 6, 7, 8]
    body = response.content.decode()
    assert "yesterday" in body and "fax" in body and "The order number is empty." in body
    first = Order.objects.get(number="A-1")
    assert first.customer == customer and first.amount == 820 and first.items.count() == 2
    line_order = Order.objects.get(number="A-2")
    assert line_order.channel == "line_shop" and line_order.customer.name == "陳大文"
    assert line_order.source == "csv"


def test_importing_the_same_file_again_changes_nothing(login, manager, customer):
    client = login(manager)
    upload(client, CSV)
    again = upload(client, CSV).context["result"]
    assert (again.created, again.existing) == (0, 2)
    assert Order.objects.count() == 2
    assert Interaction.objects.filter(kind="order").count() == 2


def test_a_file_without_the_needed_columns_is_refused_with_a_message(login, manager):
    response = upload(login(manager), "number,when\n1,2\n")
    assert response.status_code == 400
    assert "order_number" in response.content.decode() and not Order.objects.exists()


def test_a_big5_file_from_excel_is_read(login, manager, customer):
    text = "order_number,date,amount,phone\nB-1,2026-11-05,500,0912-345-678\n"
    response = login(manager).post(
        "/sales/orders/import/", {"file": SimpleUploadedFile("x.csv", text.encode("big5"))}
    )
    assert response.context["result"].created == 1


def test_sales_reps_and_agents_may_not_import(login, rep, agent):
    for user in (rep, agent):
        assert login(user).get("/sales/orders/import/").status_code == 403
        assert upload(login(user), CSV).status_code == 403
    assert not Order.objects.exists()


def make_order(customer, number, amount=100, **fields):
    order, created = orders.order_create(
        actor=None, number=number, customer=customer, amount=amount, **fields
    )
    assert created
    return order


def test_the_orders_page_lists_only_visible_orders_in_constant_queries(
    login, rep, customer, other_team, django_assert_max_num_queries
):
    from crm import roles
    from tests.factories import UserFactory

    outsider = UserFactory(username="outsider", role=roles.SALES_REP, team=other_team)
    hidden = make_order(CustomerFactory(name="Hidden", owner=outsider), "H-1")
    for i in range(30):
        make_order(customer, f"O-{i:02d}")
    client = login(rep)
    client.get("/sales/orders/")
    with django_assert_max_num_queries(12):
        response = client.get("/sales/orders/")
    body = response.content.decode()
    assert response.status_code == 200 and "O-29" in body and "H-1" not in body
    assert len(response.context["orders"]) == 25
    assert client.get(f"/sales/orders/{hidden.pk}/").status_code == 404
    assert client.get("/sales/orders/?page=2").context["orders"][-1].number == "O-00"


def test_an_order_page_shows_its_items(login, rep, customer):
    order, _created = orders.order_create(
        actor=rep,
        number="D-1",
        customer=customer,
        items=[orders.ItemInput(sku="S1", description="茶葉禮盒", quantity=3, unit_price=500)],
    )
    body = login(rep).get(f"/sales/orders/{order.pk}/").content.decode()
    assert "茶葉禮盒" in body and "1,500" in body


def test_the_360_page_shows_the_customer_s_orders_and_totals(login, rep, customer):
    for i in range(7):
        make_order(customer, f"P-{i}", amount=1000)
    response = login(rep).get(f"/customers/{customer.pk}/")
    body = response.content.decode()
    panel = body.split('data-testid="panel-orders"', 1)[1].split("</section>", 1)[0]
    assert "7 orders" in panel and "TWD 7,000" in panel and "P-6" in panel and "P-0" not in panel
    assert "Order P-0: TWD 1,000 (Store)" in body  # on the timeline


def test_a_large_file_is_imported_in_the_background_with_progress(
    login, manager, customer, django_capture_on_commit_callbacks
):
    lines = ["order_number,date,amount,phone"]
    lines += [f"L-{i:04d},2026-11-05,{100 + i},0912-345-678" for i in range(orders.SYNC_MAX_ROWS + 20)]
    lines.append("L-BAD,someday,1,0912-345-678")
    client = login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, "\n".join(lines) + "\n")
    assert response.status_code == 302
    status_url = response["Location"]
    page = client.get(status_url)
    job = page.context["job"]
    assert job.status == "done" and job.created == orders.SYNC_MAX_ROWS + 20 and job.rows == []
    assert job.errors == [[len(lines), "“someday” is not a date like 2026-11-23."]]
    assert "someday" in page.content.decode()
    assert Order.objects.filter(customer=customer).count() == orders.SYNC_MAX_ROWS + 20
    assert orders.orders_import_run(import_id=job.pk) is None  # a redelivered task does nothing
    from crm import roles
    from tests.factories import UserFactory

    other_manager = UserFactory(username="manager-b", role=roles.MANAGER)
    assert login(other_manager).get(status_url).status_code == 404
