"""Mailbox settings for admins (tickets.configure_tickets): the IMAP server, a write-only password,
the team and defaults of new tickets, "test connection" and "check now"."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from .mail.imap import MailboxError, mailbox_poll, test_connection
from .models import Category, Mailbox
from .services.email import mailbox_delete, mailbox_save
from .views import permission

configure = permission("tickets.configure_tickets")


class MailboxForm(forms.ModelForm):
    password = forms.CharField(
        label=gettext_lazy("Password"),
        required=False,
        strip=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("Stored encrypted and never shown again. Leave empty to keep the stored one."),
    )

    class Meta:
        model = Mailbox
        fields = [
            "name",
            "email_address",
            "host",
            "port",
            "use_ssl",
            "username",
            "password",
            "folder",
            "team",
            "default_category",
            "default_priority",
            "enabled",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["default_category"].queryset = Category.objects.filter(active=True)
        if not self.instance.pk:
            self.fields["password"].help_text = _("Stored encrypted and never shown again.")

    def clean_password(self):
        value = self.cleaned_data.get("password") or ""
        if "\x00" in value:
            raise ValidationError(_("Enter a valid password."))
        return value


@configure
def mailbox_list(request):
    return render(
        request,
        "tickets/settings/mailboxes.html",
        {"section": "mailboxes", "mailboxes": list(Mailbox.objects.select_related("team"))},
    )


@configure
@require_http_methods(["GET", "POST"])
def mailbox_edit(request, pk=None):
    mailbox = get_object_or_404(Mailbox, pk=pk) if pk is not None else Mailbox()
    form = MailboxForm(request.POST or None, instance=mailbox)
    if request.method == "POST" and form.is_valid():
        try:
            mailbox_save(
                actor=request.user, mailbox=form.save(commit=False), password=form.cleaned_data["password"]
            )
        except ValidationError as exc:
            for field, errors in getattr(exc, "message_dict", {None: exc.messages}).items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Mailbox saved."))
            return redirect("tickets:mailbox-edit", pk=form.instance.pk)
    return render(
        request,
        "tickets/settings/mailbox_form.html",
        {"section": "mailboxes", "form": form, "mailbox": mailbox if mailbox.pk else None},
        status=400 if form.errors else 200,
    )


@configure
@require_POST
def mailbox_test(request, pk):
    mailbox = get_object_or_404(Mailbox, pk=pk)
    try:
        result = test_connection(mailbox)
    except MailboxError as exc:
        messages.error(request, _("Connection failed: %(error)s") % {"error": exc})
    else:
        messages.success(request, result)
    return redirect("tickets:mailbox-edit", pk=pk)


@configure
@require_POST
def mailbox_check(request, pk):
    mailbox = get_object_or_404(Mailbox, pk=pk)
    result = mailbox_poll(mailbox)
    mailbox.refresh_from_db()
    if mailbox.last_error:
        messages.error(request, _("Checking failed: %(error)s") % {"error": mailbox.last_error})
    else:
        messages.success(
            request,
            _("%(fetched)d message(s) read: %(created)d new ticket(s), %(replies)d repl(ies).")
            % {"fetched": result.fetched, "created": result.created, "replies": result.replies},
        )
    return redirect("tickets:mailbox-edit", pk=pk)


@configure
@require_POST
def mailbox_remove(request, pk):
    mailbox_delete(actor=request.user, mailbox=get_object_or_404(Mailbox, pk=pk))
    messages.success(request, _("Mailbox deleted."))
    return redirect("tickets:mailboxes")
