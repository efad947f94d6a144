"""The pages people use in a browser, served by the app beside its API.

``router`` holds sign-in, sign-out and the offline API docs; each page (the
dispatcher's dashboard, the driver's app, the customer's tracking page) is a
router of its own here, built on the API and its live event stream. Pages are
server-rendered Jinja2 templates (``templates/``) with plain ES modules and
styles under ``static/`` (nothing is loaded from another site at run time:
third-party libraries are installed from npm by ``frontend/`` and copied into
``static/vendor/``). Every text a page shows comes from ``texts/<language>/``
(:mod:`lastmile.service.web.texts`), so the pages can be translated.

A browser is signed in by the session cookie (:mod:`lastmile.service.cookies`);
``access.SignedIn`` sends whoever is not to the login page.
"""
