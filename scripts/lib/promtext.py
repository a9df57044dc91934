#!/usr/bin/env python3
"""Reads saved /metrics scrapes (Prometheus text format 0.0.4), for scripts/bench-lookup.

Standard library only. Label order does not matter; a file that does not exist reads as empty
(a series appears at its first observation, so a "before" scrape may lack it).

  promtext.py value FILE NAME [LABEL=VALUE…]
      the sum of the series NAME whose labels include the given ones (0 when none)
  promtext.py has FILE NAME [LABEL=VALUE…]
      exit 0 when such a series exists, 1 otherwise
  promtext.py quantile BEFORE AFTER ROUTE METHOD Q
      of stableid_http_request_duration_seconds for ROUTE and METHOD (all statuses), between the
      two scrapes: the smallest bucket bound (ms) holding at least Q of the requests, as "2" or
      "> 5000"; "-" when there were none. (The histogram's buckets are cumulative.)
  promtext.py hits BEFORE AFTER
      stableid_lookup_cache_lookups_total between the two scrapes: "HIT% HITS MISSES OFF"
      (HIT% is "-" when there were no lookups)
"""
import math
import re
import sys

LINE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?\s*$')
LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')
HISTOGRAM = "stableid_http_request_duration_seconds_bucket"
LOOKUPS = "stableid_lookup_cache_lookups_total"


def parse(path):
    rows = []
    try:
        handle = open(path)
    except FileNotFoundError:
        return rows
    with handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            match = LINE.match(line)
            if not match:
                continue
            name, labels, value = match.groups()
            try:
                number = float(value)
            except ValueError:
                continue
            rows.append((name, dict(LABEL.findall(labels or "")), number))
    return rows


def select(rows, name, wanted):
    return [value for series, labels, value in rows
            if series == name and all(labels.get(key) == expected for key, expected in wanted.items())]


def wanted_labels(arguments):
    out = {}
    for argument in arguments:
        key, _, value = argument.partition("=")
        out[key] = value
    return out


def number(value):
    return str(int(value)) if float(value).is_integer() else repr(value)


def buckets(rows, route, method):
    out = {}
    for name, labels, value in rows:
        if name == HISTOGRAM and labels.get("route") == route and labels.get("method") == method and "le" in labels:
            bound = float(labels["le"])  # "+Inf" parses to inf
            out[bound] = out.get(bound, 0.0) + value
    return out


def named_buckets(rows, histogram):
    out = {}
    for name, labels, value in rows:
        if name == histogram + "_bucket" and "le" in labels:
            bound = float(labels["le"])
            out[bound] = out.get(bound, 0.0) + value
    return out


def quantile_of(before, after, q):
    """The smallest bucket bound (in ms) holding at least q of the observations between two scrapes."""
    delta = {bound: count - before.get(bound, 0.0) for bound, count in after.items()}
    total = delta.get(math.inf, 0.0)
    if total <= 0:
        return "-"
    for bound in sorted(delta):
        if delta[bound] >= q * total:
            if math.isinf(bound):
                finite = [b for b in delta if not math.isinf(b)]
                return "> %g" % (max(finite) * 1000) if finite else "> ?"
            return "%g" % (bound * 1000)
    return "-"


def main(argv):
    command = argv[1] if len(argv) > 1 else ""
    if command == "value" and len(argv) >= 4:
        print(number(sum(select(parse(argv[2]), argv[3], wanted_labels(argv[4:])))))
    elif command == "has" and len(argv) >= 4:
        return 0 if select(parse(argv[2]), argv[3], wanted_labels(argv[4:])) else 1
    elif command == "quantile" and len(argv) == 7:
        before = buckets(parse(argv[2]), argv[4], argv[5])
        after = buckets(parse(argv[3]), argv[4], argv[5])
        q = float(argv[6])
        delta = {bound: count - before.get(bound, 0.0) for bound, count in after.items()}
        total = delta.get(math.inf, 0.0)
        if total <= 0:
            print("-")
            return 0
        for bound in sorted(delta):
            if delta[bound] >= q * total:
                if math.isinf(bound):
                    finite = [b for b in delta if not math.isinf(b)]
                    print("> %g" % (max(finite) * 1000) if finite else "> ?")
                else:
                    print("%g" % (bound * 1000))
                return 0
        print("-")
    elif command == "within" and len(argv) == 7:
        # The share of a route's requests between two scrapes that took at most BOUND seconds
        # (a bucket bound of the histogram), as a percentage.
        before = buckets(parse(argv[2]), argv[4], argv[5])
        after = buckets(parse(argv[3]), argv[4], argv[5])
        bound = float(argv[6])
        total = after.get(math.inf, 0.0) - before.get(math.inf, 0.0)
        inside = after.get(bound, 0.0) - before.get(bound, 0.0)
        print("-" if total <= 0 else "%.1f%%" % (100 * inside / total))
    elif command == "hquantile" and len(argv) == 6:
        # hquantile BEFORE AFTER HISTOGRAM Q: a histogram without route labels, e.g. the cache's
        # change visibility; prints the bound in ms and the number of observations.
        before = named_buckets(parse(argv[2]), argv[4])
        after = named_buckets(parse(argv[3]), argv[4])
        count = after.get(math.inf, 0.0) - before.get(math.inf, 0.0)
        print(quantile_of(before, after, float(argv[5])), number(count))
    elif command == "hits" and len(argv) == 4:
        before, after = parse(argv[2]), parse(argv[3])
        counts = []
        for result in ("hit", "miss", "off"):
            wanted = {"result": result}
            counts.append(sum(select(after, LOOKUPS, wanted)) - sum(select(before, LOOKUPS, wanted)))
        hits, misses, off = counts
        total = hits + misses + off
        share = "%.1f%%" % (100.0 * hits / total) if total > 0 else "-"
        print(share, number(hits), number(misses), number(off))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
