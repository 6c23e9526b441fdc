#!/usr/bin/env python3
"""check-prometheus.py [FILE]: a strict checker of the Prometheus text
exposition format (0.0.4) for what 'corolease status --prometheus' prints,
used when promtool is not installed.  Every sample's family has exactly one
HELP and one TYPE line, both before its samples; families are contiguous;
names and labels are valid; values are numbers; counters end in _total and
are not negative; no sample (name + labels) twice; a histogram's samples are
NAME_bucket (with an le label), NAME_sum and NAME_count, its buckets
cumulative in increasing le, the last le="+Inf" and equal to NAME_count.
Exit 0 when clean, 1 with one line per problem."""
import re
import sys

NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r'^(%s)(\{(?:%s(?:,%s)*)?\})? (\S+)(?: (-?\d+))?$' % (NAME, LABEL, LABEL))
HELP = re.compile(r'^# HELP (%s) (.*)$' % NAME)
TYPE = re.compile(r'^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$' % NAME)


def hist_sample(errs, where, h, suffix, labels, value):
    """One sample of a histogram family: buckets cumulative, le increasing."""
    try:
        v = float(value)
    except ValueError:
        return
    if suffix == '_bucket':
        m = re.fullmatch(r'\{le="([^"]+)"\}', labels)
        if not m:
            errs.append('%s: a bucket needs exactly one label, le' % where)
            return
        le = float('inf') if m.group(1) == '+Inf' else float(m.group(1))
        if 'last_le' in h and (le <= h['last_le'] or v < h['last']):
            errs.append('%s: buckets not in increasing le or not cumulative' % where)
        h['last_le'], h['last'] = le, v
    elif suffix == '_count':
        h['count'] = v
    else:
        h['sum'] = v


def main():
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
    errs = []
    if not text.endswith('\n'):
        errs.append('output does not end with a newline')
    helps, types, done, seen, hists = {}, {}, set(), set(), {}
    current = None
    nsamples = 0
    for no, line in enumerate(text.splitlines(), 1):
        where = 'line %d: %r' % (no, line)
        if line.startswith('#'):
            m = HELP.match(line) or TYPE.match(line)
            if not m:
                errs.append('%s: a comment that is neither HELP nor TYPE' % where)
                continue
            fam = m.group(1)
            table = helps if line.startswith('# HELP') else types
            if fam in table:
                errs.append('%s: second %s for %s' % (where, line.split()[1], fam))
            if fam in done or (current and fam != current and fam in helps.keys() | types.keys()):
                errs.append('%s: family %s is not contiguous' % (where, fam))
            if current and fam != current:
                done.add(current)
            current = fam
            table[fam] = m.group(2)
            if table is helps and not m.group(2).strip():
                errs.append('%s: empty HELP' % where)
            continue
        m = SAMPLE.match(line)
        if not m:
            errs.append('%s: not a valid sample line' % where)
            continue
        nsamples += 1
        name, labels, value = m.group(1), m.group(2) or '', m.group(3)
        sample = name
        if current and types.get(current) == 'histogram':
            for suffix in ('_bucket', '_sum', '_count'):
                if name == current + suffix:
                    name = current   # the family's
                    hist_sample(errs, where, hists.setdefault(current, {}), suffix, labels, value)
        if name != current:
            errs.append('%s: sample of %s outside its family (current %s)' % (where, name, current))
        if name not in helps or name not in types:
            errs.append('%s: %s has no HELP or no TYPE before it' % (where, name))
        try:
            v = float(value)
        except ValueError:
            errs.append('%s: value %r is not a number' % (where, value))
            continue
        if types.get(name) == 'counter':
            if not name.endswith('_total'):
                errs.append('%s: counter %s does not end in _total' % (where, name))
            if v < 0:
                errs.append('%s: negative counter' % where)
        if (sample, labels) in seen:
            errs.append('%s: duplicate sample' % where)
        seen.add((sample, labels))
    for fam, h in hists.items():
        if h.get('last_le') != float('inf'):
            errs.append('histogram %s: no le="+Inf" bucket last' % fam)
        elif 'count' not in h or h['count'] != h['last']:
            errs.append('histogram %s: +Inf bucket %s != _count %s' % (fam, h.get('last'), h.get('count')))
        if 'sum' not in h:
            errs.append('histogram %s: no _sum' % fam)
    sampled = {n for n, _ in seen}
    for fam in helps.keys() | types.keys():
        if fam not in sampled and not (types.get(fam) == 'histogram' and fam in hists):
            errs.append('family %s has no sample' % fam)
    if nsamples == 0:
        errs.append('no samples')
    for e in errs:
        print(e)
    return 1 if errs else 0


if __name__ == '__main__':
    sys.exit(main())
