"""Per-file mutation scores from Stryker.NET's JSON reports (tests/mutation-output/*/reports/mutation-report.json)."""
import glob, json, os, sys
from collections import Counter

root = sys.argv[1] if len(sys.argv) > 1 else "tests/mutation-output"
print("| file | killed | survived | timeout | no coverage | compile error | score, all | score, covered only |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
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
