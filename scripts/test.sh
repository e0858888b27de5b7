#!/usr/bin/env bash
# The test command (README, CI): installs what the tests need, restores every project, names each
# project it may skip and the package it lacks (only those listed in `skippable`), builds the rest
# with warnings as errors, and runs every test project. Fails on any other restore, build or test error.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
configuration=${CONFIGURATION:-Release}
mkdir -p artifacts

echo "== Installing the SQS emulator (fauxqs, pinned by tools/sqs-emulator/package-lock.json)"
(cd tools/sqs-emulator && npm ci --no-audit --no-fund --loglevel=error)

# Projects whose packages this machine's NuGet source may lack (Optimizely.SDK is not served here).
# Any other project that cannot restore fails the run: the Functions app and its tests are never skipped.
skippable=(src/Producer.Optimizely/BulkDispatch.Producer.Optimizely.csproj)

echo "== Restoring"
kept=()
skipped=()
for project in src/*/*.csproj bench/*/*.csproj tests/*/*.csproj; do
  if output=$(dotnet restore "$project" 2>&1); then
    kept+=("$project")
  elif grep -qE 'error NU110[1-3]' <<<"$output" && [[ " ${skippable[*]} " == *" $project "* ]]; then
    # NU1101/NU1102/NU1103: a package (or version) this machine's NuGet source does not serve.
    missing=$(grep -oE "error NU110[1-3]: [^[]*" <<<"$output" | sed -E 's/error NU110[1-3]: //' | grep -v '^ *- ' | sort -u | paste -sd ';' -)
    skipped+=("$project -- $missing")
  else
    echo "$output"
    echo "Restore of $project failed (only the projects in 'skippable' may be skipped for a package this source lacks)." >&2
    exit 1
  fi
done
for s in "${skipped[@]+"${skipped[@]}"}"; do
  echo "SKIPPED $s"
done

# A solution filter of the projects that restored, so one build covers them all.
{
  printf '{ "solution": { "path": "../BulkDispatch.sln", "projects": [\n'
  for i in "${!kept[@]}"; do
    sep=$([ "$i" -lt $((${#kept[@]} - 1)) ] && echo "," || echo "")
    printf '  "%s"%s\n' "${kept[$i]}" "$sep"
  done
  printf '] } }\n'
} > artifacts/restorable.slnf

echo "== Building (${configuration})"
dotnet build artifacts/restorable.slnf -c "$configuration" --no-restore -nologo -v quiet -clp:ErrorsOnly

echo "== Testing"
status=0
log=artifacts/test-output.txt
: > "$log"
for project in "${kept[@]}"; do
  case "$project" in tests/*) ;; *) continue ;; esac
  echo "-- $project"
  dotnet test "$project" -c "$configuration" --no-build -nologo 2>&1 | tee -a "$log" || status=1
done

passed=$(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
skippedTests=$(grep -oE 'Skipped: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
if [ "${#skipped[@]}" -gt 0 ]; then
  echo "Projects skipped (package not served here):"
  for s in "${skipped[@]}"; do echo "  $s"; done
fi
if [ "$passed" -eq 0 ]; then
  echo "No test ran." >&2
  status=1
fi
echo "$passed passed, $failed failed, $skippedTests skipped"
exit $status
