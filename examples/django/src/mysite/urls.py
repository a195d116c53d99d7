"""The routes: the same as the Flask blog's."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.hello),
    path("blogs", views.blogs),
    path("healthz", views.healthz),
]
