"""Per-file mutation scores from Stryker.NET's JSON reports (tests/mutation-output/*/reports/mutation-report.json).

    python3 tests/mutation_summary.py [root]               # the per-file table
    python3 tests/mutation_summary.py [root] --survivors   # and every surviving / uncovered mutant, to classify
"""
import glob, json, os, sys
from collections import Counter

args = [a for a in sys.argv[1:] if not a.startswith("--")]
root = args[0] if args else "tests/mutation-output"
survivors = "--survivors" in sys.argv
print("| file | killed | survived | timeout | no coverage | compile error | score, all | score, covered only |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
listing = []
for report in sorted(glob.glob(os.path.join(root, "**", "mutation-report.json"), recursive=True)):
    data = json.load(open(report))
    for path, f in sorted(data["files"].items()):
        c = Counter(m["status"] for m in f["mutants"])
        killed, timeout = c["Killed"], c["Timeout"]
        survived, nocov = c["Survived"], c["NoCoverage"]
        detected = killed + timeout
        valid = detected + survived + nocov
        covered = detected + survived
        name = path.split("src/Actors/")[-1]
        score = f"{100 * detected / valid:.1f} %" if valid else "-"
        cscore = f"{100 * detected / covered:.1f} %" if covered else "-"
        print(f"| `{name}` | {killed} | {survived} | {timeout} | {nocov} | {c['CompileError']} | {score} | {cscore} |")
        lines = f.get("source", "").splitlines()
        for m in sorted(f["mutants"], key=lambda m: m["location"]["start"]["line"]):
            if m["status"] in ("Survived", "NoCoverage"):
                line = m["location"]["start"]["line"]
                code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
                listing.append(f"{name}:{line} {m['status']} {m['mutatorName']}: {m.get('replacement', '')!r}  <- {code}")
if survivors:
    print()
    print("\n".join(listing))
