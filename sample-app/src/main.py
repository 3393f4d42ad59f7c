"""The Flask application that Gunicorn serves as ``src.main:app``."""

import socket

from flask import Flask, jsonify

from src import __version__
from src.pattern import banner

APP_NAME = "python-docker-app"

app = Flask(__name__)


@app.get("/")
def index():
    """Greet the caller; the hostname tells one container from another."""
    greeting = "Hello from the Day-11 sample app!"
    return jsonify(
        app=APP_NAME,
        message=greeting,
        version=__version__,
        hostname=socket.gethostname(),
        banner=banner(greeting),
    )


@app.get("/health")
def health():
    """Liveness probe: answers as soon as the app can serve."""
    return jsonify(status="ok")


if __name__ == "__main__":
    # For a quick look without Gunicorn or Docker: python -m src.main
    app.run(host="127.0.0.1", port=5000)
