from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from crm.models import Team
from customers.models import Customer, Segment, Tag
from tickets.models import Priority

from .models import Broadcast, BroadcastVariant, Channel


class ReplyForm(forms.Form):
    text = forms.CharField(label=_("Reply"), required=False, max_length=5000, strip=True)
    image = forms.FileField(label=_("Image"), required=False)


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Internal note"), max_length=5000)


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        label=_("Agent"),
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label=_("— nobody —"),
    )
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.all(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = (
            get_user_model()
            .objects.filter(is_active=True, groups__permissions__codename="change_conversation")
            .distinct()
            .order_by("first_name", "username")
        )


class TicketForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL)


class BroadcastForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200, help_text=_("For you; recipients do not see it."))
    channel = forms.ModelChoiceField(label=_("Channel"), queryset=Channel.objects.filter(is_active=True))
    segment = forms.ModelChoiceField(
        label=_("Customers in segment"),
        queryset=Segment.objects.none(),
        required=False,
        empty_label=_("No segment"),
        help_text=_("Tags and stage below narrow it further."),
    )
    tags = forms.ModelMultipleChoiceField(
        label=_("Customers tagged"),
        queryset=Tag.objects.all(),
        required=False,
        help_text=_("No tag: every follower of the channel."),
    )
    tag_match = forms.ChoiceField(label=_("Match"), choices=Broadcast.TagMatch.choices, initial="any")
    lifecycle_stage = forms.ChoiceField(
        label=_("Lifecycle stage"),
        choices=[("", _("Any stage")), *Customer.Lifecycle.choices],
        required=False,
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None:
            from customers.selectors import segments_visible_to

            self.fields["segment"].queryset = segments_visible_to(user).order_by("name")


class VariantForm(forms.Form):
    label = forms.CharField(label=_("Variant"), max_length=20, initial="A")
    percent = forms.IntegerField(label=_("Share (%)"), min_value=0, max_value=100, initial=100)
    kind = forms.ChoiceField(label=_("Message"), choices=BroadcastVariant.Kind.choices, initial="text")
    text = forms.CharField(
        label=_("Text"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )
    image = forms.FileField(label=_("Image (JPEG or PNG)"), required=False)
    flex = forms.CharField(
        label=_("Flex JSON"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": '{"type": "bubble", "body": {...}}'}),
    )
    alt_text = forms.CharField(label=_("Notification text (Flex)"), required=False, max_length=400)


class ScheduleForm(forms.Form):
    send_at = forms.DateTimeField(
        label=_("Send at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
