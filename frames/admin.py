"""FRAMES in the admin. Researchers (``frames.research``) and superusers manage everything;
faculty with staff access work with their university's rows (``visible_to``), as in the API.
Every write goes through frames/services.py or frames/lms.py (``ServiceAdmin``): one audit
entry each, with ``via="admin"``.

Pages beyond Django's own: the interface list with each interface's energy loss and level
under the active model (badges), a factor model's weights and its latest validation run, a
team's continuity, and a module's sections (edited inline while it is a draft) with its
completion funnel as an inline SVG chart.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Value
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from frames import lms, selectors, services
from frames.models import (
    LOSS_FIELD,
    Departure,
    FactorModel,
    FactorValue,
    Faculty,
    Interface,
    InterfaceFactorValue,
    Level,
    ModelFactor,
    ModelValidation,
    Module,
    ModuleSection,
    Outcome,
    Project,
    RiskFactor,
    Student,
    Team,
    University,
    is_researcher,
)
from veritas import formats
from veritas.admin import CSS, ReadOnlyAdmin, ServiceAdmin, badge
from veritas.charts import Chart, Series

FUNNEL_COLOURS = ("#90a4ae", "#42a5f5", "#2e7d32")  # assigned, started, completed


class FramesAdmin(ServiceAdmin):
    """Rows the user may see (``visible_to``); writes through the service ``saver`` (and
    ``services.delete``); a refused or conflicting write shows above the form."""

    refusals = (PermissionDenied, services.Conflict)
    saver = None
    instance_name = ""

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    def has_module_permission(self, request):
        return is_researcher(request.user) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return is_researcher(request.user) or super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return is_researcher(request.user) or super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return is_researcher(request.user) or super().has_change_permission(request, obj)

    def write(self, request, obj, data):
        return type(self).saver(actor=request.user, data=data, **{self.instance_name: obj})

    def erase(self, request, obj):
        services.delete(actor=request.user, instance=obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if hasattr(related.objects, "visible_to") and "queryset" not in kwargs:
            kwargs["queryset"] = related.objects.visible_to(request.user)  # no other university's names
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_related(self, request, form, formsets, change):
        for formset in formsets:  # inline rows through the services too (save_formset)
            self.save_formset(request, form, formset, change)

    def save_formset(self, request, form, formset, change):
        if formset.has_changed():
            raise PermissionDenied(f"{type(self).__name__} saves no inline rows.")
        saved(formset)


def saved(formset, new=(), changed=(), deleted=()) -> None:
    """What formset.save() would have noted, for the admin's change message (the rows were
    written by a service instead)."""
    formset.new_objects, formset.deleted_objects = list(new), list(deleted)
    formset.changed_objects = [(obj, []) for obj in changed]


# --- the consortium ------------------------------------------------------------------------------


@admin.register(University)
class UniversityAdmin(FramesAdmin):
    saver, instance_name = services.save_university, "university"

    def has_delete_permission(self, request, obj=None):
        return False  # a university leaves the consortium as inactive

    list_display = ["name", "code", "is_lead", "active"]
    fields = services.UNIVERSITY_FIELDS
    list_filter = ["active"]
    search_fields = ["name", "code"]
    actions = ["advance_term"]

    @admin.action(description="End the term (students move on a term; those in their last graduate)")
    def advance_term(self, request, queryset):
        for university in queryset:
            try:
                result = services.advance_term(actor=request.user, university=university)
            except PermissionDenied as error:
                self.message_user(request, f"{university}: {error}", messages.ERROR)
                continue
            self.message_user(
                request, f"{university}: {result.advanced} students moved on a term, {result.graduated} graduated."
            )


@admin.register(Faculty)
class FacultyAdmin(FramesAdmin):
    saver, instance_name = services.save_faculty, "faculty"

    def has_delete_permission(self, request, obj=None):
        return False  # someone who left is inactive

    list_display = ["name", "university", "role", "user", "active"]
    fields = services.FACULTY_FIELDS
    list_filter = ["university", "active"]
    search_fields = ["name", "user__username"]
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(FramesAdmin):
    saver, instance_name = services.save_project, "project"
    list_display = ["name", "university", "type", "is_collaborative", "duration_months"]
    list_filter = ["university", "is_collaborative"]
    search_fields = ["name"]


@admin.register(Team)
class TeamAdmin(FramesAdmin):
    saver, instance_name = services.save_team, "team"
    list_display = ["name", "university", "project", "discipline", "continuity_link"]
    list_filter = ["university", "discipline"]
    search_fields = ["name"]

    @admin.display(description="continuity")
    def continuity_link(self, obj):
        url = reverse("admin:frames_team_continuity", args=[obj.pk])
        return format_html('<a href="{}">continuity</a>', url)

    def get_urls(self):
        continuity = path(
            "<path:object_id>/continuity/",
            self.admin_site.admin_view(self.continuity_view),
            name="frames_team_continuity",
        )
        return [continuity, *super().get_urls()]

    def continuity_view(self, request, object_id):
        team = self.get_object(request, unquote(object_id))
        if team is not None and not self.has_view_permission(request, team):
            raise PermissionDenied
        if team is None:
            raise Http404("No such team.")
        continuity = selectors.team_continuity(team)
        members = team.members.filter(active=True).order_by("-is_lead", "terms_remaining", "name")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": team,
            "title": f"Continuity of {team}",
            "continuity": continuity,
            "outgoing_share": f"{formats.number(100 * continuity.outgoing_share, 0)}{formats.NBSP}%",
            "members": [(m, badge(m.get_status_display(), m.status)) for m in members],
        }
        return TemplateResponse(request, "admin/frames/team/continuity.html", context)


@admin.register(Student)
class StudentAdmin(FramesAdmin):
    saver, instance_name = services.save_student, "student"
    list_display = ["name", "university", "team", "terms_remaining", "status_badge", "is_lead", "active"]
    list_filter = ["university", "status", "is_lead", "active"]
    search_fields = ["name", "user__username"]
    fields = ["university", "name", "team", "expertise_area", "graduation_term", "terms_remaining", "is_lead"]
    list_select_related = ["university", "team"]

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.get_status_display(), obj.status)


@admin.register(Departure)
class DepartureAdmin(ReadOnlyAdmin):
    list_display = ["student", "team", "university", "left_at", "was_lead"]
    list_filter = ["university", "was_lead"]
    list_select_related = ["student", "team", "university"]

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


@admin.register(Outcome)
class OutcomeAdmin(FramesAdmin):
    saver, instance_name = services.save_outcome, "outcome"
    list_display = ["__str__", "university", "project", "outcome_type", "success", "cohort_year"]
    list_filter = ["university", "outcome_type", "success", "cohort_year"]
    fields = services.OUTCOME_FIELDS


# --- interfaces ----------------------------------------------------------------------------------


class LevelFilter(admin.SimpleListFilter):
    title = "energy-loss level"
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return Level.choices

    def queryset(self, request, queryset):
        return queryset.filter(level=self.value()) if self.value() in Level.values else queryset


class CrossFilter(admin.SimpleListFilter):
    title = "across universities"
    parameter_name = "cross"

    def lookups(self, request, model_admin):
        return [("yes", "across universities"), ("no", "within one")]

    def queryset(self, request, queryset):
        return {"yes": queryset.filter(cross_university=True), "no": queryset.filter(cross_university=False)}.get(
            self.value(), queryset
        )


class ResearchersInline:
    """An inline researchers (frames.research) may use without the model permissions, as
    the pages they sit on; the services still decide each write."""

    def has_view_permission(self, request, obj=None):
        return is_researcher(request.user) or super().has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return is_researcher(request.user) or super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return is_researcher(request.user) or super().has_change_permission(request, obj)


class CurrentValueInline(ResearchersInline, admin.TabularInline):
    model = InterfaceFactorValue
    verbose_name_plural = "factor values (history kept: the current ones have no end)"
    fields = ["factor", "value", "assigned_at", "ended_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["factor__name", "-assigned_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Interface)
class InterfaceAdmin(admin.ModelAdmin):
    """Interfaces with their energy loss under the active model, worst first."""

    list_display = ["link", "ends", "interface_type", "cross_badge", "loss_badge"]
    list_display_links = ["link"]
    list_filter = [LevelFilter, CrossFilter, "interface_type", "from_university"]
    inlines = [CurrentValueInline]
    readonly_fields = ["from_university", "to_university", "cross_university", "created_at", "loss_badge"]
    fields = ["from_kind", "from_id", "to_kind", "to_id", "interface_type", "bond_type", *readonly_fields]
    list_per_page = 50

    class Media:
        css = CSS

    def get_queryset(self, request):
        # Not ModelAdmin's: it orders by get_ordering() before the loss is there to order by.
        interfaces = Interface.objects.visible_to(request.user)
        model = FactorModel.objects.filter(is_active=True).first()
        if model is None:  # nothing to show (changelist_view says why)
            return interfaces.annotate(loss=Value(None, output_field=LOSS_FIELD), level=Value("")).none()
        return interfaces.with_loss(model).with_names().select_related("from_university", "to_university")

    def get_ordering(self, request):
        return ["-loss", "id"]  # worst first (a column's header sorts otherwise)

    def has_module_permission(self, request):
        return is_researcher(request.user) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return is_researcher(request.user) or super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return False  # through the API: ends are typed ids (docs/frames.md)

    def has_delete_permission(self, request, obj=None):
        return False  # through the API (services.delete_interface: audited)

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="interface")
    def link(self, obj):
        names = [
            f"{getattr(obj, f'{end}_name', None) or '?'} ({getattr(obj, f'{end}_kind')})" for end in ("from", "to")
        ]
        return f"{names[0]} \u2192 {names[1]}"

    @admin.display(description="universities")
    def ends(self, obj):
        names = [u.code if u else "consortium" for u in (obj.from_university, obj.to_university)]
        return f"{names[0]} \u2192 {names[1]}"

    @admin.display(description="across", ordering="cross_university")
    def cross_badge(self, obj):
        return badge("cross-university", "cross") if obj.cross_university else ""

    @admin.display(description="energy loss (active model)", ordering="loss")
    def loss_badge(self, obj):
        loss = getattr(obj, "loss", None)
        if loss is None:
            return formats.MISSING
        return format_html("{} {}", badge(obj.level, f"level-{obj.level}"), formats.number(float(loss), 3))

    def changelist_view(self, request, extra_context=None):
        if not FactorModel.objects.filter(is_active=True).exists():
            message = "No factor model is active: activate one to see the interfaces and their losses."
            self.message_user(request, message, messages.WARNING)
        return super().changelist_view(request, extra_context)


# --- factors and models --------------------------------------------------------------------------


class FactorValueInline(ResearchersInline, admin.TabularInline):
    model = FactorValue
    fields = ["name", "display_name", "contribution", "order"]
    extra = 0


@admin.register(RiskFactor)
class RiskFactorAdmin(FramesAdmin):
    """Factors and their values; researchers write them (services.save_factor, save_factor_value)."""

    saver, instance_name = services.save_factor, "factor"
    list_display = ["display_name", "name", "category", "confidence", "active"]
    list_filter = ["category", "confidence", "active"]
    fields = services.FACTOR_FIELDS
    inlines = [FactorValueInline]

    def get_queryset(self, request):
        return RiskFactor.objects.all()

    def erase(self, request, obj):
        raise PermissionDenied("Risk factors are not deleted: set them inactive.")

    def save_formset(self, request, form, formset, change):
        factor = form.saved or form.instance
        if formset.deleted_forms:
            raise PermissionDenied("Factor values are not deleted: interfaces' history refers to them.")
        new, changed = [], []
        for inline_form in formset.forms:
            if inline_form.has_changed() and inline_form.cleaned_data:
                data = {name: inline_form.cleaned_data[name] for name in FactorValueInline.fields}
                current = inline_form.instance if inline_form.instance.pk else None
                value = services.save_factor_value(actor=request.user, data={**data, "factor": factor}, value=current)
                (changed if current else new).append(value)
        saved(formset, new, changed)


class WeightInline(ResearchersInline, admin.TabularInline):
    model = ModelFactor
    fields = ["factor", "weight", "enabled"]
    extra = 0


def validation_table(model: FactorModel, outcomes):
    """The model's latest validation run, over the ``outcomes`` the user may see."""
    latest = model.validations.order_by("-validated_at").first()
    if latest is None:
        return "Not validated yet: use the “Validate” action on the list."
    rows = (
        ModelValidation.objects.filter(model=model, run=latest.run, outcome__in=outcomes)
        .select_related("outcome__university", "outcome__project")
        .order_by("-predicted_risk", "outcome_id")
    )
    body = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                r.outcome.university.code,
                r.outcome.project or formats.MISSING,
                r.outcome.cohort_year or formats.MISSING,
                formats.number(float(r.predicted_risk), 3),
                badge("failed", "level-critical") if r.actual_loss else badge("succeeded", "level-low"),
            )
            for r in rows
        ),
    )
    return format_html(
        '<p>Run {} of {} ({} outcomes you may see).</p><table id="validation-table"><thead><tr><th>university</th>'
        "<th>project</th><th>cohort</th><th>predicted risk</th><th>outcome</th></tr></thead><tbody>{}</tbody>"
        "</table>",
        latest.run,
        timezone.localtime(latest.validated_at).strftime("%Y-%m-%d %H:%M"),
        rows.count(),
        body,
    )


@admin.register(FactorModel)
class FactorModelAdmin(FramesAdmin):
    """A model's weights inline (saved as the model's whole list: services.save_model), and
    its latest validation run as a table."""

    saver, instance_name = services.save_model, "model"
    list_display = ["display_name", "name", "is_active", "is_baseline", "validation_status"]
    list_filter = ["is_active", "validation_status"]
    inlines = [WeightInline]
    readonly_fields = ["is_baseline", "is_active"]
    fields = ["name", "display_name", "hypothesis", "validation_status", "is_baseline", "is_active"]
    actions = ["activate", "validate"]
    change_form_template = "admin/frames/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        model = self.get_object(request, object_id)
        section = validation_table(model, Outcome.objects.visible_to(request.user)) if model else ""
        context = {"section_id": "validation", "section_title": "Latest validation run", "section_html": section}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **context})

    def get_queryset(self, request):
        return FactorModel.objects.all()

    def erase(self, request, obj):
        raise PermissionDenied("Factor models are not deleted: their validations refer to them.")

    def save_formset(self, request, form, formset, change):
        saved(formset)  # the model's list is replaced whole: its entry says what changed
        if not formset.has_changed():
            return
        weights = [
            {name: f.cleaned_data[name] for name in ("factor", "weight", "enabled")}
            for f in formset.forms
            if f.cleaned_data and f not in formset.deleted_forms
        ]
        services.save_model(actor=request.user, data={"weights": weights}, model=form.saved or form.instance)

    @admin.action(description="Make the selected model the active one")
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one model to activate.", messages.ERROR)
            return
        model = services.activate_model(actor=request.user, model=queryset.get())
        self.message_user(request, f"{model} is the active model.")

    @admin.action(description="Validate against the recorded outcomes")
    def validate(self, request, queryset):
        for model in queryset:
            report = services.validate_model(actor=request.user, model=model)
            auc = formats.MISSING if report.roc_auc is None else formats.number(report.roc_auc, 3)
            text = f"{model}: n = {report.n}, ROC AUC {auc}. {report.warning}".strip()
            self.message_user(request, text, messages.WARNING if report.warning else messages.SUCCESS)


# --- the onboarding LMS --------------------------------------------------------------------------


class SectionInline(ResearchersInline, admin.StackedInline):
    model = ModuleSection
    fields = ["order", "section_type", "title", "content", "duration_minutes"]
    extra = 0

    def _draft(self, obj) -> bool:
        return obj is None or obj.status == Module.Status.DRAFT

    def has_add_permission(self, request, obj=None):
        return self._draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._draft(obj) and super().has_delete_permission(request, obj)


def funnel_chart(row: lms.FunnelRow) -> Chart:
    return Chart(
        title="Completion funnel",
        x=["assigned", "started", "completed"],
        series=[
            Series("students", [row.assigned, row.started, row.completed], FUNNEL_COLOURS[1]),
        ],
        value_label="students",
        empty="No one is assigned this module yet.",
        id="module-funnel-chart",
    )


@admin.register(Module)
class ModuleAdmin(FramesAdmin):
    """A module revision with its sections inline (editable while it is a draft: a published
    one changes through the “New revision” action) and its completion funnel."""

    saver, instance_name = lms.save_module, "module"
    list_display = ["title", "key", "revision", "status_badge", "university", "category", "published_at"]
    list_filter = ["status", "university", "category"]
    search_fields = ["key", "title"]
    fields = ["key", "title", "category", "estimated_minutes", "university", "prerequisites", "tags"]
    inlines = [SectionInline]
    actions = ["publish", "revise"]
    change_form_template = "admin/frames/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        module = self.get_object(request, object_id)
        chart = funnel_chart(lms.funnel([module], lms.scope_of(request.user))[0]).render() if module else ""
        context = {"section_id": "funnel", "section_title": "Completion funnel", "section_html": chart}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **context})

    def has_change_permission(self, request, obj=None):
        # A published or archived revision is read (its content changes through a new revision).
        return (obj is None or obj.status == Module.Status.DRAFT) and super().has_change_permission(request, obj)

    def erase(self, request, obj):
        raise PermissionDenied("Modules are archived, not deleted.")

    def has_delete_permission(self, request, obj=None):
        return False

    def save_formset(self, request, form, formset, change):
        # Sections through the LMS's service (a draft only: audited, one entry each).
        module = form.saved or form.instance
        new, changed, deleted = [], [], []
        for inline_form in formset.deleted_forms:
            if inline_form.instance.pk:
                deleted.append(inline_form.instance)
                lms.delete_section(actor=request.user, section=inline_form.instance)
        for inline_form in formset.forms:
            if inline_form in formset.deleted_forms or not inline_form.has_changed():
                continue
            cleaned = inline_form.cleaned_data
            data = {name: cleaned[name] for name in SectionInline.fields if name in cleaned}
            current = inline_form.instance if inline_form.instance.pk else None
            section = lms.save_section(actor=request.user, data={**data, "module": module}, section=current)
            (changed if current else new).append(section)
        saved(formset, new, changed, deleted)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.get_status_display(), obj.status)

    @admin.action(description="Publish the selected drafts")
    def publish(self, request, queryset):
        for module in queryset:
            try:
                lms.publish(actor=request.user, module=module)
                self.message_user(request, f"{module} is published.")
            except (PermissionDenied, services.Conflict) as error:
                self.message_user(request, f"{module}: {error}", messages.ERROR)

    @admin.action(description="New revision (a draft copy to edit)")
    def revise(self, request, queryset):
        for module in queryset:
            try:
                draft = lms.new_revision(actor=request.user, module=module)
                self.message_user(request, f"{draft} created as a draft.")
            except (PermissionDenied, services.Conflict) as error:
                self.message_user(request, f"{module}: {error}", messages.ERROR)
