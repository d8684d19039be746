/**
 * The kinds of time a sample can be (user, syscall, page fault, interrupt, kernel thread, idle,
 * other kernel, no stack) and the user / kernel / idle split they fall in. Data only: the JSON
 * schema (report/schema.ts) lists them too.
 */

export const categories = [
  'user',
  'syscall',
  'page_fault',
  'interrupt',
  'kernel_thread',
  'idle',
  'kernel_other',
  'no_stack',
] as const;
export type Category = (typeof categories)[number];

/** Which part of the user / kernel / idle split a category belongs to. */
export function modeOf(c: Category): 'user' | 'kernel' | 'idle' | 'unknown' {
  switch (c) {
    case 'user':
      return 'user';
    case 'idle':
      return 'idle';
    case 'no_stack':
      return 'unknown';
    case 'syscall':
    case 'page_fault':
    case 'interrupt':
    case 'kernel_thread':
    case 'kernel_other':
      return 'kernel';
  }
}
