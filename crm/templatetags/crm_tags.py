from django import forms, template

register = template.Library()


@register.filter
def add_class(bound_field, css):
    classes = css
    if bound_field.errors:
        classes += " is-invalid"
    existing = bound_field.field.widget.attrs.get("class", "")
    return bound_field.as_widget(attrs={"class": f"{existing} {classes}".strip()})


@register.filter
def is_checkbox(bound_field):
    return isinstance(bound_field.field.widget, forms.CheckboxInput)


@register.filter
def is_select(bound_field):
    return isinstance(bound_field.field.widget, forms.Select) and not isinstance(
        bound_field.field.widget, forms.SelectMultiple
    )
