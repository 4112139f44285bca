"""The web console at ``/console/``: a page that lets people work with kmsd as AWS's KMS console does.

It acts only as the signed-in user -- every action is a real API call made
with that user's credentials through the app's own pipeline -- so it can do
exactly what the user can, no more (:mod:`kmsd.console.dispatch`).  The page
is static files served from the package (``static/``), with no build step
and nothing fetched from elsewhere (:mod:`kmsd.console.app`).
"""
