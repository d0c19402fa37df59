#!/usr/bin/env bash
# Regenerates sandbox/src/kubernetes/protobuf/kubernetes.binpb: the protobuf descriptors of the
# API groups the sandbox serves, compiled from Kubernetes' own generated.proto files.
#
#   scripts/k8s-descriptors.sh <protos>
#
# <protos> is a folder laid out as kube-rs/k8s-pb's k8s-pb-codegen/protos (Kubernetes' protos
# with the "k8s.io/" prefix taken off package names and imports); the checked-in file was made
# from k8s-pb commit 7d74b0b, Kubernetes v1.36.0. protoc comes from PyPI's grpcio-tools.
set -euo pipefail
protos=${1:?usage: scripts/k8s-descriptors.sh <k8s-pb-codegen/protos folder>}
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${TMPDIR:-/tmp}/rollgate-protoc
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import grpc_tools' 2>/dev/null || "$venv/bin/pip" install --quiet grpcio-tools
cd "$protos"
"$venv/bin/python" -m grpc_tools.protoc --include_imports \
    --descriptor_set_out="$here/sandbox/src/kubernetes/protobuf/kubernetes.binpb" -I . \
    api/core/v1/generated.proto api/apps/v1/generated.proto api/authentication/v1/generated.proto \
    api/authorization/v1/generated.proto api/rbac/v1/generated.proto api/coordination/v1/generated.proto \
    2> >(grep -v 'is unused' >&2)
