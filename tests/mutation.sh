#!/usr/bin/env bash
# Mutation testing of the core actors with Stryker.NET (on demand, NOT in CI: it takes tens of minutes on 2 cores).
#
#   bash tests/mutation.sh                 # every group below
#   bash tests/mutation.sh auth requests   # some groups
#   bash tests/mutation.sh file src/Actors/Auth/RefreshDecision.cs            # one file (the way to make a run finish)
#   bash tests/mutation.sh file 'src/Actors/Requests/RequestActor.cs{1..270}'  # one file, a range of its lines
#   bash tests/mutation.sh file 'src/Actors/Requests/RequestActor.cs{486..606}{770..822}'  # several ranges
#
# One file per run is what finishes on a shared 2-core machine: the filter is the narrowest one for that file
# (FILE_FILTER below, or MUTATION_FILTER=... to override) and the report goes to tests/mutation-output/<file>[-range]/.
#
# Groups: auth, requests (coordinator, admission, backoff, Retry-After, budget), request-actor, transfers.
# Each group mutates a few core files and runs only the fast tests that cover them (the soak, CLI and cluster tests
# are filtered out: a mutant they cover would take 30-70 s each). Reports land in tests/mutation-output/<group>/;
# the per-file scores are appended to tests/mutation-output/summary.md, to be copied into tests/MUTATION.md.
# tests/stryker-config.json keeps one mutant per test run (disable-mix-mutants): a mutant that hangs loses only itself.
# The --mutate globs are relative to the project under test (src/Actors); files that do not exist are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet tool restore >/dev/null

declare -A MUTATE FILTER
MUTATE[auth]='src/Actors/Auth/TokenActor.cs,src/Actors/Auth/RefreshCore.cs,src/Actors/Auth/RefreshDecision.cs,src/Actors/Auth/TokenStores.cs,src/Actors/Auth/HttpTokenRefreshers.cs,src/Actors/Auth/ClientCredentialsTokenSource.cs,src/Actors/Auth/JwtExpiry.cs,src/Actors/Auth/TokenOptions.cs,src/Actors/Auth/CredentialsSupervisor.cs,src/Actors/Auth/TokenPair.cs,src/Actors/Auth/TokenSnapshot.cs,src/Actors/Auth/TokenProtocol.cs'
FILTER[auth]='FullyQualifiedName~Courier.Tests.Auth&FullyQualifiedName!~ExplorerTests'
MUTATE[requests]='src/Actors/Requests/RequestCoordinator.cs,src/Actors/Internal/Admission.cs,src/Actors/Requests/Backoff.cs,src/Actors/Requests/RetryAfter.cs,src/Actors/Requests/RetryBudget.cs'
FILTER[requests]='(FullyQualifiedName~Courier.Tests.Requests|FullyQualifiedName~Courier.Tests.Internal)&FullyQualifiedName!~ExplorerTests'
# RequestActor on its own: nearly every request test covers each of its ~400 mutants (10-15 s a mutant on a shared
# 2-core machine, well over an hour); run it when the machine is free.
MUTATE[request-actor]='src/Actors/Requests/RequestActor.cs'
FILTER[request-actor]="${FILTER[requests]}"
MUTATE[transfers]='src/Actors/Transfers/DownloadActor.cs,src/Actors/Transfers/TusUploadActor.cs,src/Actors/Transfers/MultipartUploadActor.cs,src/Actors/Transfers/TransferActor.cs,src/Actors/Transfers/PartialFile.cs'
FILTER[transfers]='FullyQualifiedName~Courier.Tests.Transfers&FullyQualifiedName!~Soak'

# The narrowest fast filter per file of the core, for `file` runs (the explorers take 6-9 s a run and are left out).
NO_SLOW='FullyQualifiedName!~ExplorerTests&FullyQualifiedName!~Integration&FullyQualifiedName!~Soak'
declare -A FILE_FILTER
FILE_FILTER[Auth]="FullyQualifiedName~Courier.Tests.Auth&$NO_SLOW"
FILE_FILTER[RequestCoordinator.cs]="(FullyQualifiedName~Courier.Tests.Requests|FullyQualifiedName~Courier.Tests.Internal|FullyQualifiedName~Courier.Tests.Diagnostics)&$NO_SLOW"
FILE_FILTER[RequestActor.cs]="(FullyQualifiedName~Courier.Tests.Requests|FullyQualifiedName~Courier.Tests.Diagnostics)&$NO_SLOW"
# The transfer files: their loopback integration tests (a real Kestrel server, tus, multipart, ranges) are in: most of
# what a transfer promises shows only against a server, and they take a few seconds.
# TransferTracingTests (Diagnostics) check the transfers' telemetry calls: in too.
FILE_FILTER[Transfers]="(FullyQualifiedName~Courier.Tests.Transfers&FullyQualifiedName!~Soak)|FullyQualifiedName~TransferTracingTests"

out="$(pwd)/tests/mutation-output"; mkdir -p "$out"
if [ "${1:-}" = file ]; then
  [ -n "${2:-}" ] || { echo "usage: bash tests/mutation.sh file src/Actors/<dir>/<file>.cs[{from..to}]"; exit 2; }
  spec="$2"; path="${spec%%\{*}"; base="$(basename "$path")"; dir="$(basename "$(dirname "$path")")"
  [ -f "$path" ] || { echo "no such file: $path"; exit 2; }
  filter="${MUTATION_FILTER:-${FILE_FILTER[$base]:-${FILE_FILTER[$dir]:-}}}"
  [ -n "$filter" ] || { echo "no filter known for $path: set MUTATION_FILTER"; exit 2; }
  range="${spec#"$path"}"; name="${base%.cs}"
  [ -z "$range" ] || name="$name-$(echo "$range" | tr -c '0-9' '-' | sed 's/-\+/-/g;s/^-//;s/-$//')"
  # Many ranges (the lines of a run's survivors) make too long a folder name: keep the first and last line and a count.
  [ ${#name} -le 60 ] || name="${base%.cs}-$(echo "$range" | grep -o '[0-9]\+' | head -1)-$(echo "$range" | grep -o '[0-9]\+' | tail -1)-$(echo "$range" | grep -o '{' | wc -l)ranges"
  name="${MUTATION_NAME:-$name}"
  # Stryker reads {from..to} as a span of *characters* and keeps only the mutants wholly inside it: turn each range of
  # lines into the characters from the start of its first line to the end of its last (a mutant that crosses the edge
  # of a range, as the removal of a method's body, is in none: cut between members).
  spans="$(python3 - "$path" "$range" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8-sig").read()
starts = [0]
for line in text.splitlines(keepends=True):
    starts.append(starts[-1] + len(line.encode("utf-16-le")) // 2)
last = len(starts) - 1
print("".join("{%d..%d}" % (starts[min(int(a), last) - 1], starts[min(int(b), last)])
              for a, b in re.findall(r"\{(\d+)\.\.(\d+)\}", sys.argv[2])))
PY
)"
  echo "== file $spec (characters $spans), filter $filter"
  ( cd tests && dotnet dotnet-stryker --project Actors.csproj --configuration Release \
      --test-case-filter "$filter" --concurrency "${STRYKER_CONCURRENCY:-1}" \
      --reporter Json --reporter ClearText --reporter Progress --output "$out/$name" --skip-version-check \
      --mutate "**/${path#src/Actors/}$spans" ) || echo "stryker failed for $spec"
  python3 tests/mutation_summary.py "$out/$name"
  exit 0
fi

groups=("$@"); [ ${#groups[@]} -gt 0 ] || groups=(auth requests request-actor transfers)
for g in "${groups[@]}"; do
  [ -n "${MUTATE[$g]:-}" ] || { echo "unknown group $g (auth, requests, request-actor, transfers)"; exit 2; }
  args=()
  IFS=',' read -ra files <<<"${MUTATE[$g]}"
  for f in "${files[@]}"; do [ -f "$f" ] && args+=(--mutate "**/${f#src/Actors/}"); done
  echo "== $g: ${args[*]}"
  ( cd tests && dotnet dotnet-stryker --project Actors.csproj --configuration Release \
      --test-case-filter "${FILTER[$g]}" --concurrency "${STRYKER_CONCURRENCY:-1}" \
      --reporter Json --reporter ClearText --reporter Progress --output "$out/$g" --skip-version-check \
      "${args[@]}" ) || echo "stryker failed for $g"
done
python3 tests/mutation_summary.py "$out" | tee "$out/summary.md"
