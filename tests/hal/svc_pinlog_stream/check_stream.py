"""check_stream.py LOG PIN - pinlog's records of PIN, a bit HAL toggles every
servo cycle, must account for every cycle: each record follows the previous
one by exactly one cycle with the other value, unless a "lost" record
between them counts exactly the cycles missing. Prints
"records R lost L span S"; exits 1 on any gap not accounted for."""
import json, sys

log, pin = sys.argv[1], sys.argv[2]
recs = [json.loads(l) for l in open(log)]
# the first record is the state at attach; the stream starts after it
recs = [r for r in recs if r["pin"] in (pin, "")][1:]
prev, pending, n, lost, first = None, 0, 0, 0, None
for r in recs:
    if r["type"] == "lost":
        pending += r["value"]
        lost += r["value"]
        continue
    if prev is not None:
        gap = r["cycle"] - prev["cycle"] - 1
        if gap != pending or (gap == 0 and r["value"] == prev["value"]):
            print(f"cycle {r['cycle']}: gap {gap}, lost records said {pending}", file=sys.stderr)
            sys.exit(1)
    elif pending:
        lost -= pending  # lost before the first record: not in the span
    first = first if first is not None else r["cycle"]
    prev, pending, n = r, 0, n + 1
if prev is None:
    print("no records", file=sys.stderr)
    sys.exit(1)
print(f"records {n} lost {lost} span {prev['cycle'] - first + 1}")
sys.exit(0 if n + lost == prev["cycle"] - first + 1 else 1)
