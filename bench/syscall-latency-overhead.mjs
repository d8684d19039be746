// What the eBPF syscall latency tracer adds to every syscall on the host. dd copies one byte per
// read/write (two syscalls per byte) alone, with bpftrace attached with empty programs on
// raw_syscalls sys_enter/sys_exit (the tracepoint cost alone), and with crosstalk's program
// (src/collect/syscall-latency.ts), in alternating rounds. Prints ns per syscall and the added ns.
// Needs root and bpftrace. Usage (hold /tmp/crosstalk-system.lock):
//   node --import tsx bench/syscall-latency-overhead.mjs [--rounds N] [--bytes N]
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { syscallLatencyProgram } from '../src/collect/syscall-latency.ts';

const { values: args } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, bytes: { type: 'string', default: '1000000' } },
});
const ROUNDS = Number(args.rounds);
const BYTES = Number(args.bytes);

const READY = 'crosstalk-latency-ready';
const EMPTY = `BEGIN { printf("${READY}\\n"); } tracepoint:raw_syscalls:sys_enter { } tracepoint:raw_syscalls:sys_exit { }`;
const PROGRAMS = {
  'tracepoint only (empty programs)': EMPTY,
  'crosstalk latency program': syscallLatencyProgram(),
};

function dd() {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=1', `count=${BYTES}`], { stdio: 'ignore' });
    p.on('error', reject);
    p.on('close', () => resolve(Number(process.hrtime.bigint() - t0) / (2 * BYTES)));
  });
}

async function withTracer(program) {
  const p = spawn('bpftrace', ['-f', 'json', '-e', program], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, BPFTRACE_MAP_KEYS_MAX: '65536' },
  });
  await new Promise((resolve, reject) => {
    p.stdout.on('data', (b) => {
      // The BEGIN probe prints it once every probe is attached.
      if (String(b).includes(READY)) resolve();
    });
    p.on('close', () => reject(new Error('bpftrace exited before attaching')));
  });
  const ns = await dd();
  p.kill('SIGINT');
  await new Promise((r) => p.on('close', r));
  return ns;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = { baseline: [] };
for (const k of Object.keys(PROGRAMS)) results[k] = [];
for (let round = 0; round < ROUNDS; round++) {
  results.baseline.push(await dd());
  for (const [name, program] of Object.entries(PROGRAMS)) results[name].push(await withTracer(program));
  results.baseline.push(await dd());
}
const base = median(results.baseline);
process.stdout.write(
  `dd bs=1 count=${BYTES}, ${ROUNDS} rounds, median ns per syscall (dd's wall time / syscalls):\n`,
);
for (const [name, xs] of Object.entries(results)) {
  const m = median(xs);
  const added = name === 'baseline' ? '' : `  (+${(m - base).toFixed(0)} ns per syscall)`;
  process.stdout.write(
    `  ${name.padEnd(34)} ${m.toFixed(0)} ns${added}  [${xs.map((x) => x.toFixed(0)).join(', ')}]\n`,
  );
}
