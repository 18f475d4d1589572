import django_filters


class FilterSet(django_filters.FilterSet):
    """The base of every API filter set: a parameter sent with an empty value
    (``?until=``) is a 400 naming it, not silently "no filter" as in HTML forms."""

    def is_valid(self):
        valid = super().is_valid()
        getlist = getattr(self.data, "getlist", lambda key: [self.data.get(key)])
        for name in self.filters:
            if name in self.data and any(value in ("", None) for value in getlist(name)):
                if name in self.form.fields and name not in self.form.errors:
                    self.form.add_error(name, "May not be empty.")
                valid = False
        return valid
