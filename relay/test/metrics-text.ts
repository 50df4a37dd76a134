/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests: prom-client
 * only writes the format, and a scrape that Prometheus would reject must fail the test.
 * Checks: line syntax (names, label escapes, values), one HELP and one TYPE per family, TYPE
 * before its samples, samples named after their family (_bucket/_sum/_count for histograms),
 * no series twice, and histogram buckets that rise and end with +Inf equal to _count.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string | undefined;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export class ExpositionError extends Error {
  constructor(line: number, message: string, text: string) {
    super(`line ${line}: ${message}: ${JSON.stringify(text)}`);
  }
}

/** As Prometheus reads values (Go's strconv.ParseFloat): NaN and Inf in any case (prom-client writes `Nan`). */
function parseValue(raw: string): number {
  const special = raw.toLowerCase();
  if (special === '+inf' || special === 'inf' || special === '+infinity' || special === 'infinity') return Infinity;
  if (special === '-inf' || special === '-infinity') return -Infinity;
  if (special === 'nan') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) throw new Error(`bad value ${raw}`);
  return Number(raw);
}

/** `name{a="b",c="d"} value [timestamp]` → sample; throws on anything malformed. */
function parseSample(line: string): Sample {
  let i = 0;
  while (i < line.length && /[a-zA-Z0-9_:]/.test(line[i]!)) i++;
  const name = line.slice(0, i);
  if (!METRIC_NAME.test(name)) throw new Error('bad metric name');
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const start = i;
      while (i < line.length && /[a-zA-Z0-9_]/.test(line[i]!)) i++;
      const label = line.slice(start, i);
      if (!LABEL_NAME.test(label) || label.startsWith('__')) throw new Error(`bad label name ${label}`);
      if (label in labels) throw new Error(`label ${label} twice`);
      if (line[i] !== '=' || line[i + 1] !== '"') throw new Error('expected ="');
      i += 2;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new Error('unterminated label value');
        if (c === '"') break;
        if (c === '\\') {
          const next = line[i + 1];
          if (next === '\\') value += '\\';
          else if (next === '"') value += '"';
          else if (next === 'n') value += '\n';
          else throw new Error(`bad escape \\${next ?? ''}`);
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      labels[label] = value;
      i++;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error('expected , or }');
    }
    i++;
  }
  const rest = line.slice(i);
  const match = /^ +(\S+)(?: +(-?\d+))?$/.exec(rest);
  if (!match) throw new Error('expected " value [timestamp]"');
  return { name, labels, value: parseValue(match[1]!) };
}

function familyOf(sample: string, families: Map<string, Family>): Family | undefined {
  const exact = families.get(sample);
  if (exact) return exact;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sample.endsWith(suffix)) continue;
    const family = families.get(sample.slice(0, -suffix.length));
    if (family && (family.type === 'histogram' || (family.type === 'summary' && suffix !== '_bucket'))) return family;
  }
  return undefined;
}

const seriesKey = (s: Sample) => `${s.name}{${Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;

/** Parses a whole scrape; every problem throws with its line. */
export function parseExposition(text: string): Map<string, Family> {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, Family>();
  const helps = new Set<string>();
  const series = new Set<string>();
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, index) => {
    const at = index + 1;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!meta) return; // a plain comment
      const [, kind, name, rest = ''] = meta;
      if (!METRIC_NAME.test(name!)) throw new ExpositionError(at, 'bad metric name', line);
      if (kind === 'HELP') {
        if (helps.has(name!)) throw new ExpositionError(at, 'second HELP', line);
        helps.add(name!);
        const family = families.get(name!);
        if (family) family.help = rest;
        else families.set(name!, { name: name!, type: 'untyped', help: rest, samples: [] });
        return;
      }
      if (!TYPES.has(rest as MetricType)) throw new ExpositionError(at, 'unknown type', line);
      const family = families.get(name!);
      if (family && (family.samples.length > 0 || family.type !== 'untyped')) throw new ExpositionError(at, 'TYPE after samples or twice', line);
      if (family) family.type = rest as MetricType;
      else families.set(name!, { name: name!, type: rest as MetricType, help: undefined, samples: [] });
      return;
    }
    let sample: Sample;
    try {
      sample = parseSample(line);
    } catch (error) {
      throw new ExpositionError(at, (error as Error).message, line);
    }
    const family = familyOf(sample.name, families);
    if (!family) throw new ExpositionError(at, 'sample of no declared family', line);
    const key = seriesKey(sample);
    if (series.has(key)) throw new ExpositionError(at, 'series twice', line);
    series.add(key);
    if (family.type === 'counter' && !(sample.value >= 0)) throw new ExpositionError(at, 'negative counter', line);
    family.samples.push(sample);
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function checkHistogram(family: Family): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const group = groups.get(key) ?? { buckets: [] };
    groups.set(key, group);
    if (sample.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${family.name}: bucket without le`);
      group.buckets.push([parseValue(le), sample.value]);
    } else if (sample.name.endsWith('_count')) group.count = sample.value;
  }
  for (const group of groups.values()) {
    const buckets = group.buckets.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < buckets.length; i++) {
      if (buckets[i]![1] < buckets[i - 1]![1]) throw new Error(`${family.name}: bucket counts fall`);
    }
    const last = buckets.at(-1);
    if (!last || last[0] !== Infinity) throw new Error(`${family.name}: no +Inf bucket`);
    if (group.count !== last[1]) throw new Error(`${family.name}: +Inf bucket ${last[1]} differs from _count ${String(group.count)}`);
  }
}

/** The value of one series (labels must match exactly the given ones, when given), or undefined. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) return sample.value;
    }
  }
  return undefined;
}
