"""Satisfaction surveys by LINE (tickets.csat channel "line"): a customer who follows one of our LINE
channels gets the survey link pushed in their conversation there, recorded as an outbound message in the
inbox. When the customer follows no active LINE channel, or the push fails, e-mail is tried next."""

import logging
import uuid

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from customers.models import SocialIdentity

from .inbox import TEXT_MAX, _changed
from .models import Channel, Conversation, Message

logger = logging.getLogger(__name__)


def _followed_line_conversation(customer) -> Conversation | None:
    """The customer's conversation on an active LINE channel they follow, newest first; one is opened
    when they follow the channel but never wrote."""
    identities = SocialIdentity.objects.filter(
        customer=customer, provider=SocialIdentity.Provider.LINE, followed=True
    ).order_by("-followed_at", "-id")
    channels = {
        str(channel.pk): channel
        for channel in Channel.objects.filter(kind=Channel.Kind.LINE, is_active=True).only("pk", "team_id")
    }
    for identity in identities:
        channel = channels.get(identity.channel)
        if channel is None:
            continue
        conversation, _created = Conversation.objects.get_or_create(
            channel=channel,
            identity=identity,
            defaults={"customer": customer, "team_id": channel.team_id},
        )
        return conversation
    return None


def survey_text(survey) -> str:
    from tickets.csat import survey_url
    from tickets.mail.outbound import customer_language

    ticket = survey.ticket
    with translation.override(customer_language(ticket.customer, settings.LANGUAGE_CODE)):
        text = _("How did we do with “%(subject)s”? Rate our help from 1 to 5 here: %(url)s") % {
            "subject": ticket.subject,
            "url": survey_url(survey),
        }
    return text[:TEXT_MAX]


def send_survey_by_line(survey) -> bool:
    """Push the survey link to the customer on LINE; False (e-mail is tried next) when they follow no
    active LINE channel or LINE refuses."""
    from tickets.csat import survey_url

    from .inbox_delivery import message_deliver

    customer = survey.ticket.customer
    if customer is None or customer.merged_into_id:
        return False
    if not survey_url(survey).startswith(("https://", "http://")):
        return False  # TICKETS_SITE_URL unset: a relative link is of no use in a chat
    conversation = _followed_line_conversation(customer)
    if conversation is None:
        return False
    now = timezone.now()
    message = Message.objects.create(
        conversation=conversation,
        direction=Message.Direction.OUT,
        kind=Message.Kind.TEXT,
        text=survey_text(survey),
        status=Message.Status.QUEUED,
        retry_key=uuid.uuid4(),
        created_at=now,
        data={"csat_ticket": survey.ticket_id},
    )
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=now)
    _changed(conversation)
    delivered = message_deliver(message_id=message.pk, final_attempt=True)
    if delivered is None or delivered.status != Message.Status.SENT:
        logger.info(
            "CSAT survey for ticket %s not pushed by LINE: %s",
            survey.ticket_id,
            delivered and delivered.error,
        )
        return False
    return True


def register_csat_channel() -> None:
    from tickets.csat import CsatChannel, register_channel
    from tickets.models import CsatSurvey

    register_channel(CsatChannel(CsatSurvey.Channel.LINE, send_survey_by_line, order=50))
