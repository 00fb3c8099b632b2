"""Page through big lists without COUNT(*): fetch one row more than shown to know if there is a next page."""

from dataclasses import dataclass


@dataclass
class Page:
    items: list
    number: int
    has_next: bool
    per_page: int

    @property
    def has_previous(self):
        return self.number > 1

    @property
    def next_page_number(self):
        return self.number + 1

    @property
    def previous_page_number(self):
        return self.number - 1

    @property
    def start_index(self):
        return (self.number - 1) * self.per_page + 1 if self.items else 0

    @property
    def end_index(self):
        return (self.number - 1) * self.per_page + len(self.items)


MAX_PAGE = 400


def paginate(queryset, page_param, per_page=25) -> Page:
    try:
        number = max(1, min(int(page_param or 1), MAX_PAGE))
    except (TypeError, ValueError):
        number = 1
    offset = (number - 1) * per_page
    rows = list(queryset[offset : offset + per_page + 1])
    return Page(items=rows[:per_page], number=number, has_next=len(rows) > per_page, per_page=per_page)
