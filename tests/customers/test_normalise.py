import pytest
from django.core.exceptions import ValidationError

from customers.normalise import email_normalise, mask_email, mask_phone, phone_normalise


@pytest.mark.parametrize(
    "typed",
    [
        "0912-345-678",
        "+886 912 345 678",
        "886912345678",
        "0912345678",
        "+886-912-345-678",
        " (0912) 345 678 ",
    ],
)
def test_every_usual_spelling_of_a_taiwan_mobile_is_one_number(typed):
    assert phone_normalise(typed) == ("+886912345678", "")


def test_landline_with_area_code_and_extension_keeps_the_extension():
    assert phone_normalise("(02)2345-6789#12") == ("+886223456789", "12")


@pytest.mark.parametrize("typed", ["+86 138 0013 8000", "8613800138000", "13800138000"])
def test_mainland_numbers_are_recognised_with_or_without_country_code(typed):
    assert phone_normalise(typed) == ("+8613800138000", "")


@pytest.mark.parametrize("typed", ["12345", "0912-345", "abc", "+886 000 000 000", "1" * 41])
def test_invalid_numbers_are_rejected_with_a_clear_message(typed):
    with pytest.raises(ValidationError) as excinfo:
        phone_normalise(typed)
    assert "phone number" in excinfo.value.messages[0]


def test_emails_are_lowercased_and_validated():
    assert email_normalise("  Wang.Xiao@Example.COM ") == "wang.xiao@example.com"
    with pytest.raises(ValidationError):
        email_normalise("not-an-address")


def test_masks_keep_only_what_identifies_without_revealing():
    assert mask_phone("+886912345678") == "+886 ••• ••• 678"
    assert "345" not in mask_phone("+886912345678")
    assert mask_email("wang@example.com") == "w•••@example.com"


def test_a_mainland_mobile_without_country_code_is_not_read_as_a_us_number():
    assert phone_normalise("13012345678") == ("+8613012345678", "")
