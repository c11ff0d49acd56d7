from django.urls import path

from safeward.devices import views

app_name = "devices"

urlpatterns = [
    path("", views.device_list, name="list"),
    path("new/", views.device_form, name="device_new"),
    path("import/", views.inventory_import, name="inventory_import"),
    path("<int:device_id>/", views.device_detail, name="device"),
    path("<int:device_id>/edit/", views.device_form, name="device_edit"),
    path("<int:device_id>/lifecycle/", views.device_lifecycle, name="device_lifecycle"),
    path("segments/", views.segments, name="segments"),
    path("segments/new/", views.segment_new, name="segment_new"),
    path("flows/new/", views.flow_new, name="flow_new"),
    path("flows/import/", views.flows_import, name="flows_import"),
    path("flows/observed/import/", views.flow_export_import, name="flow_export_import"),
    path("flows/<int:flow_id>/delete/", views.flow_delete, name="flow_delete"),
    path("mds2/", views.mds2_list, name="mds2_list"),
    path("mds2/import/", views.mds2_import, name="mds2_import"),
    path("mds2/<int:statement_id>/", views.mds2_detail, name="mds2"),
    path("controls/", views.control_list, name="controls"),
    path("controls/new/", views.control_new, name="control_new"),
    path("controls/<int:control_id>/", views.control_detail, name="control"),
    path("controls/<int:control_id>/evidence/", views.evidence_attach, name="evidence_attach"),
    path(
        "controls/<int:control_id>/evidence/<int:evidence_id>/",
        views.evidence_download,
        name="evidence_download",
    ),
    path("controls/<int:control_id>/renew/", views.control_renew, name="control_renew"),
    path("controls/<int:control_id>/retire/", views.control_retire, name="control_retire"),
]
