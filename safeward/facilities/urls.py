from django.urls import path

from safeward.facilities import views

app_name = "facilities"

urlpatterns = [
    path("", views.areas, name="areas"),
    path("areas/new/", views.area_new, name="area_new"),
    path("areas/<int:area_id>/", views.area_detail, name="area"),
    path("areas/<int:area_id>/authorise/", views.area_authorise, name="area_authorise"),
    path("people/<int:person_id>/events/", views.person_events, name="person_events"),
    path("import/", views.import_events, name="import"),
    path("visitors/", views.visitor_desk, name="visitors"),
    path("visitors/flagged/", views.visitors_flagged, name="visitors_flagged"),
    path("visitors/<int:visitor_id>/badge/", views.visitor_badge, name="visitor_badge"),
    path("visitors/<int:visitor_id>/sign-out/", views.visitor_sign_out, name="visitor_sign_out"),
    path("custody/", views.custody, name="custody"),
    path("custody/new/", views.custody_new, name="custody_new"),
    path("disposals/", views.disposals, name="disposals"),
    path("certificates/new/", views.certificate_new, name="certificate_new"),
    path("certificates/<int:certificate_id>/", views.certificate_detail, name="certificate"),
    path(
        "certificates/<int:certificate_id>/validate/", views.certificate_validate, name="certificate_validate"
    ),
    path("certificates/<int:certificate_id>/dispose/", views.certificate_dispose, name="certificate_dispose"),
    path("certificates/<int:certificate_id>/pdf/", views.certificate_pdf, name="certificate_pdf"),
    path("pickups/<slug:pickup>/", views.pickup_summary, name="pickup"),
    path("workstations/", views.workstations, name="workstations"),
    path("workstations/place/", views.workstation_place, name="workstation_place"),
]
