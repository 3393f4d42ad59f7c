import socket

import pytest

from src import __version__
from src.main import app
from src.pattern import banner, main


@pytest.fixture
def client():
    app.config.update(TESTING=True)
    return app.test_client()


def test_index_greets_with_version_and_hostname(client):
    response = client.get("/")
    assert response.status_code == 200
    body = response.get_json()
    assert body["app"] == "python-docker-app"
    assert body["version"] == __version__
    assert body["hostname"] == socket.gethostname()
    assert "Hello" in body["message"]
    assert body["banner"] == banner(body["message"])


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_unknown_path_is_404(client):
    assert client.get("/nope").status_code == 404


def test_banner_frames_every_line():
    assert banner("hi") == "******\n* hi *\n******"
    assert banner("a\nbcd", border="#").splitlines() == ["#######", "# a   #", "# bcd #", "#######"]


def test_console_script_prints_banner(capsys):
    assert main(["Docker", "day"]) == 0
    assert "* Docker day *" in capsys.readouterr().out
