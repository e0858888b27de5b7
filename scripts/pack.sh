#!/usr/bin/env bash
# The pack command (README: Install): `dotnet pack -c Release` of every package project into artifacts/packages:
# BulkDispatch.Core, .Producer, .Producer.Optimizely, .Flush, .QueueOperations (libraries, with .snupkg symbols) and the bulkdispatch
# .NET tool. One version for all, from Directory.Build.props (override: bash scripts/pack.sh -p:VersionPrefix=1.0.1).
# A project whose packages this machine's NuGet source does not serve (Optimizely.SDK here) is named and skipped,
# as scripts/test.sh does; everything else failing fails the command.
set -euo pipefail
cd "$(dirname "$0")/.."
out=artifacts/packages
projects=(
  src/Core/BulkDispatch.Core.csproj
  src/Producer/BulkDispatch.Producer.csproj
  src/Producer.Optimizely/BulkDispatch.Producer.Optimizely.csproj
  src/Flush/BulkDispatch.Flush.csproj
  src/QueueOperations/BulkDispatch.QueueOperations.csproj
  src/Cli/BulkDispatch.Cli.csproj
)
mkdir -p "$out"
kept=()
for project in "${projects[@]}"; do
  if output=$(dotnet restore "$project" 2>&1); then
    kept+=("$project")
  elif grep -qE 'error NU110[1-3]' <<<"$output"; then
    missing=$(grep -oE "error NU110[1-3]: [^[]*" <<<"$output" | sed -E 's/error NU110[1-3]: //' | sort -u | paste -sd ';' -)
    echo "SKIPPED $project -- $missing"
  else
    echo "$output"
    echo "Restore of $project failed for a reason other than a missing package." >&2
    exit 1
  fi
done

# One pack over a solution filter of what restored: shared projects build once.
{
  printf '{ "solution": { "path": "../BulkDispatch.sln", "projects": [\n'
  for i in "${!kept[@]}"; do
    sep=$([ "$i" -lt $((${#kept[@]} - 1)) ] && echo "," || echo "")
    printf '  "%s"%s\n' "${kept[$i]}" "$sep"
  done
  printf '] } }\n'
} > artifacts/packages.slnf

# ContinuousIntegrationBuild: deterministic paths in the .pdb (/_/src/...), as SourceLink expects of published packages.
dotnet pack artifacts/packages.slnf -c Release -o "$out" --no-restore -nologo -p:ContinuousIntegrationBuild=true "$@"
ls -1 "$out"
