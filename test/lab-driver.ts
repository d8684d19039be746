// Runs one lab scenario in its own process so tests can SIGKILL or SIGINT it mid-run.
// Usage: node --import tsx test/lab-driver.ts <scenario> <duration seconds> [containers]
// Prints `progress: <msg>` lines as the run goes, then `result: <json>` with the notes and run name.
import { runScenario } from '../src/lab/runner.ts';

const [name, duration, containers] = process.argv.slice(2);
const result = await runScenario(name, {
  durationSeconds: Number(duration),
  containers: containers ? Number(containers) : undefined,
  warmupSeconds: 0.2,
  waitSeconds: 300,
  onProgress: (msg) => process.stdout.write(`progress: ${msg}\n`),
});
process.stdout.write(`result: ${JSON.stringify({ runName: result.runName, notes: result.notes })}\n`);
