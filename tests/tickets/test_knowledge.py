"""Knowledge base: drafts and published versions, search in Chinese and English, suggestions on a ticket."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm import roles
from tests.factories import CustomerFactory, UserFactory
from tickets import knowledge, services
from tickets.models import Article
from tickets.services import knowledge as kb

pytestmark = pytest.mark.django_db


@pytest.fixture
def articles(manager):
    def publish(title, body):
        version = kb.article_save(actor=manager, title=title, body=body)
        return kb.article_publish(actor=manager, article=version.article)

    return {
        "login": publish(
            "無法登入 App 怎麼辦", "請先確認密碼是否正確,再清除快取。Reset your password from the login page."
        ),
        "refund": publish("退款流程", "申請退款需要訂單編號,七個工作天內退回信用卡。"),
        "invoice": publish("How to download an invoice", "Open Orders, choose the order and press Invoice."),
        "draft": kb.article_save(actor=manager, title="登入 新功能 (draft)", body="尚未公開").article,
    }


def titles(queryset):
    return [article.title for article in queryset]


def test_a_new_article_is_a_draft_that_agents_cannot_see_until_it_is_published(manager, agent):
    version = kb.article_save(actor=manager, title="Shipping times", body="Three working days.")
    article = version.article
    assert article.status == Article.Status.DRAFT and article.current_version is None
    assert not knowledge.articles_visible_to(agent).filter(pk=article.pk).exists()
    kb.article_publish(actor=manager, article=article)
    article.refresh_from_db()
    assert article.status == Article.Status.PUBLISHED and article.current_version == version
    assert knowledge.articles_visible_to(agent).filter(pk=article.pk).exists()


def test_editing_a_published_article_keeps_readers_on_the_published_version(login, manager, agent):
    first = kb.article_save(actor=manager, title="Opening hours", body="9 to 6.")
    article = kb.article_publish(actor=manager, article=first.article)
    second = kb.article_save(
        actor=manager, article=article, title="Opening hours", body="9 to 9 from December."
    )
    assert second.number == 2 and not second.published
    page = login(agent).get(reverse("tickets:kb-detail", args=[article.pk])).content.decode()
    assert "9 to 6." in page and "9 to 9" not in page
    assert (
        "9 to 9"
        not in login(agent)
        .get(reverse("tickets:kb-detail", args=[article.pk]), {"version": 2})
        .content.decode()
    )
    login(manager).post(reverse("tickets:kb-publish", args=[article.pk]), {"version": 2})
    assert (
        "9 to 9 from December."
        in login(agent).get(reverse("tickets:kb-detail", args=[article.pk])).content.decode()
    )
    assert list(article.versions.values_list("number", "published")) == [(2, True), (1, True)]


def test_agents_read_but_may_not_write_or_publish(agent, manager, login):
    with pytest.raises(PermissionDenied):
        kb.article_save(actor=agent, title="Mine", body="text")
    article = kb.article_save(actor=manager, title="T", body="B").article
    with pytest.raises(PermissionDenied):
        kb.article_publish(actor=agent, article=article)
    client = login(agent)
    assert client.get(reverse("tickets:kb")).status_code == 200
    assert client.get(reverse("tickets:kb-create")).status_code == 403
    assert client.get(reverse("tickets:kb-detail", args=[article.pk])).status_code == 404  # a draft


def test_an_article_needs_a_title_and_text(manager):
    with pytest.raises(ValidationError) as excinfo:
        kb.article_save(actor=manager, title=" ", body="")
    assert set(excinfo.value.message_dict) == {"title", "body"}
    assert not Article.objects.exists()


def test_search_finds_chinese_words_without_spaces_and_english_words(articles, agent):
    assert titles(knowledge.article_search(user=agent, q="登入")) == ["無法登入 App 怎麼辦"]
    assert titles(knowledge.article_search(user=agent, q="退款")) == ["退款流程"]
    assert titles(knowledge.article_search(user=agent, q="信用卡")) == ["退款流程"]
    assert titles(knowledge.article_search(user=agent, q="INVOICE")) == ["How to download an invoice"]
    assert titles(knowledge.article_search(user=agent, q="password reset")) == ["無法登入 App 怎麼辦"]
    assert titles(knowledge.article_search(user=agent, q="火星")) == []


def test_editors_also_find_drafts(articles, manager):
    assert set(titles(knowledge.article_search(user=manager, q="登入"))) == {
        "無法登入 App 怎麼辦",
        "登入 新功能 (draft)",
    }


def test_archived_articles_leave_search(articles, manager, agent):
    kb.article_archive(actor=manager, article=articles["refund"])
    assert titles(knowledge.article_search(user=agent, q="退款")) == []


def test_suggestions_rank_articles_by_the_ticket_subject_in_one_query(articles, agent):
    with CaptureQueriesContext(connection) as captured:
        suggested = knowledge.article_suggestions(user=agent, text="客戶說 App 無法登入,密碼錯誤")
    assert titles(suggested)[0] == "無法登入 App 怎麼辦"
    assert "登入 新功能 (draft)" not in titles(suggested)
    assert len([q for q in captured.captured_queries if "tickets_article" in q["sql"]]) == 1
    assert titles(knowledge.article_suggestions(user=agent, text="Where is my invoice?")) == [
        "How to download an invoice"
    ]
    assert knowledge.article_suggestions(user=agent, text="?!") == []


def test_the_ticket_page_suggests_articles_from_its_subject(articles, login, rep, customer):
    ticket = services.ticket_create(actor=rep, customer=customer, subject="申請退款")
    client = login(rep)
    page = client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()
    assert reverse("tickets:kb-suggest") in page
    suggestions = client.get(reverse("tickets:kb-suggest"), {"ticket": ticket.pk}).content.decode()
    assert "退款流程" in suggestions


def test_suggestions_for_a_ticket_the_user_cannot_see_are_not_found(articles, login, rep, other_team):
    outsider = UserFactory(username="outsider", role=roles.SALES_REP, team=other_team)
    hidden = CustomerFactory(name="Hidden", owner=outsider)
    ticket = services.ticket_create(actor=outsider, customer=hidden, subject="申請退款")
    client = login(rep)
    assert client.get(reverse("tickets:kb-suggest"), {"ticket": ticket.pk}).status_code == 404
    assert client.get(reverse("tickets:kb-suggest"), {"ticket": "x"}).status_code == 404


def test_the_list_page_searches_and_filters(articles, login, agent):
    page = login(agent).get(reverse("tickets:kb"), {"q": "退款"}).content.decode()
    assert "退款流程" in page and "How to download" not in page
    empty = login(agent).get(reverse("tickets:kb"), {"q": "火星"}).content.decode()
    assert "No article matches" in empty


def test_search_terms_cut_chinese_into_pairs_and_drop_filler_words():
    assert knowledge.search_terms("無法登入") == ["無法", "法登", "登入"]
    assert knowledge.search_terms("How do I reset the password?") == ["reset", "password"]
    assert knowledge.search_terms("") == []


def test_the_article_list_costs_the_same_queries_for_3_or_20_articles(login, manager, agent):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add(n):
        for i in range(n):
            version = kb.article_save(actor=manager, title=f"Article {i}", body="text")
            kb.article_publish(actor=manager, article=version.article)

    client = login(agent)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("tickets:kb"), {"q": "article"}).status_code == 200
        return len(captured)

    add(3)
    few = queries()
    add(17)
    assert queries() == few
