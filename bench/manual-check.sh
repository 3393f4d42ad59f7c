#!/usr/bin/env bash
# The same verification `lab check day11` does, done by hand with the docker CLI, curl and
# Python: the baseline for bench/run.sh. Usage: manual-check.sh WORKSPACE TAG
# Exits 0 when every step is verified. (A fair baseline: it checks less than lab does, and
# diagnoses nothing.)
set -euo pipefail
ws=$1
tag=$2
cd "$ws"
fail() { echo "FAIL: $*" >&2; exit 1; }

# dockerfile
grep -q '^FROM python:3.9-slim' Dockerfile || fail base
grep -q '^WORKDIR /app' Dockerfile || fail workdir
grep -q 'pip install --no-cache-dir -r requirements.txt' Dockerfile || fail pip
grep -q '^EXPOSE 5000' Dockerfile || fail expose
grep -q '^CMD \["gunicorn","--bind","0.0.0.0:5000","src.main:app"\]' Dockerfile || fail cmd

# build
id=$(docker image inspect -f '{{.Id}}' python-docker-app:latest) || fail build
[ "$(docker image inspect -f '{{.Config.WorkingDir}}' "$id")" = /app ] || fail build-config

# run: a probe container of our own, then the learner's container
probe=$(docker run -d -p 127.0.0.1::5000 python-docker-app)
port=$(docker port "$probe" 5000/tcp | head -n1 | sed 's/.*://')
wait_http() { for _ in $(seq 1 1000); do curl -fs "$1" && return 0; sleep 0.02; done; return 1; }
wait_http "http://127.0.0.1:$port/" | grep -q python-docker-app || { docker rm -f "$probe" >/dev/null; fail probe; }
docker rm -f "$probe" >/dev/null
docker ps -a --filter "ancestor=$id" --format '{{.Ports}} {{.Status}}' | grep -q . || fail run
curl -fs http://localhost:5000/ | grep -q python-docker-app || fail run-http

# tag
[ "$(docker image inspect -f '{{.Id}}' "$tag")" = "$id" ] || fail tag

# push
repo=${tag%:*}; name=${repo#*/}; host=${repo%%/*}; t=${tag##*:}
remote=$(curl -fsI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json' \
  "http://$host/v2/$name/manifests/$t" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
docker image inspect -f '{{join .RepoDigests "\n"}}' "$tag" | grep -q "$remote" || fail push

# compose
docker ps --filter "label=com.docker.compose.project.working_dir=$ws" --filter status=running -q | grep -q . || fail compose
curl -fs http://localhost:5000/health | grep -q ok || fail compose-http

# editable
.venv/bin/python -I -c 'import json,importlib.metadata as m; d=json.loads(m.distribution("python-docker-app").read_text("direct_url.json")); assert d["dir_info"]["editable"]' || fail editable
gport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
( cd /tmp && exec "$ws/.venv/bin/python" -m gunicorn --bind "127.0.0.1:$gport" src.main:app >/dev/null 2>&1 ) &
gpid=$!
wait_http "http://127.0.0.1:$gport/" | grep -q python-docker-app || { kill $gpid; fail editable-serve; }
kill $gpid; wait $gpid 2>/dev/null || true
echo "all steps verified"
