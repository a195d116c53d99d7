"""The blog's three routes in Django (a WSGI app): run with APP_DIR=examples/django APP_MODULE=mysite.wsgi:application."""
