#!/usr/bin/env bash
# Runs govulncheck on the module against the Go vulnerability database taken
# from the golang.org/x/vulndb module (served by the Go module proxy), so it
# works where only the module proxy is reachable.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}

vulndb_version=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}
govulncheck_version=${GOVULNCHECK_VERSION:-v1.9.0}

src=$(cd "$(mktemp -d)" && go mod init tmp >/dev/null 2>&1 &&
	go mod download -json "golang.org/x/vulndb@${vulndb_version}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
db=$(mktemp -d)
python3 - "$src/data/osv" "$db" <<'PY'
import json, os, sys
src, out = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(out, "ID"))
os.makedirs(os.path.join(out, "index"))
mods, newest = {}, ""
for name in sorted(os.listdir(src)):
    with open(os.path.join(src, name)) as f:
        entry = json.load(f)
    with open(os.path.join(out, "ID", name), "w") as f:
        json.dump(entry, f)
    newest = max(newest, entry["modified"])
    for aff in entry.get("affected", []):
        fixed = ""
        for r in aff.get("ranges", []):
            for ev in r.get("events", []):
                fixed = ev.get("fixed", fixed)
        vulns = mods.setdefault(aff["package"]["name"], [])
        v = {"id": entry["id"], "modified": entry["modified"]}
        if fixed:
            v["fixed"] = fixed
        vulns.append(v)
with open(os.path.join(out, "index", "db.json"), "w") as f:
    json.dump({"modified": newest}, f)
with open(os.path.join(out, "index", "modules.json"), "w") as f:
    json.dump([{"path": p, "vulns": v} for p, v in sorted(mods.items())], f)
PY
go run "golang.org/x/vuln/cmd/govulncheck@${govulncheck_version}" -db "file://${db}" ./...
