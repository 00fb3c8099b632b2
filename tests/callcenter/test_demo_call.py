import pytest
from django.core.management import CommandError, call_command


def test_demo_call_needs_the_shared_secret(settings):
    settings.CTI_SHARED_SECRET = ""
    with pytest.raises(CommandError, match="CTI_SHARED_SECRET"):
        call_command("cti_demo_call")


def test_demo_call_explains_an_unreachable_crm(settings):
    settings.CTI_SHARED_SECRET = "s"
    with pytest.raises(CommandError, match="Cannot reach"):
        call_command("cti_demo_call", url="http://127.0.0.1:9")


def test_demo_call_refuses_other_schemes(settings):
    settings.CTI_SHARED_SECRET = "s"
    with pytest.raises(CommandError, match="http"):
        call_command("cti_demo_call", url="file:///etc/passwd")
