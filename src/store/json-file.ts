/**
 * Reading a run's JSON files (metadata.json, counters.json, syscall-latency.json): text that is
 * not JSON, or JSON that does not match the file's zod schema, is an InputError naming the file
 * (and the first bad field), never "no data".
 */
import type { z } from 'zod';
import { InputError } from '../formats/errors.ts';

/** `text` parsed as JSON; `what` names the document in the error ("JSON run counters"). */
export function parseJsonText(text: string, file: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InputError(file, null, what, 'text that is not JSON');
  }
}

/** `value` checked against `schema`; `expected` says what the file should hold. */
export function validated<T>(value: unknown, schema: z.ZodType<T>, file: string, expected: string): T {
  const checked = schema.safeParse(value);
  if (!checked.success) {
    const where = checked.error.issues[0]?.path.join('.') || 'the top level';
    throw new InputError(file, null, expected, `a bad ${where}`);
  }
  return checked.data;
}
