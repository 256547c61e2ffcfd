"""The online app: serves the deploy app's current model over HTTP (Flask under gunicorn) and follows
its deploys and rollbacks."""
