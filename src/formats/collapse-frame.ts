/**
 * How one perf call chain frame is written in folded output, following the rules of
 * inferno-collapse-perf 0.12.8 (jonhoo/inferno @929be68, src/collapse/perf.rs, matcher.rs and
 * common.rs), which in turn follow FlameGraph's stackcollapse-perf.pl. Rules only; no code from
 * either project.
 */

export interface FrameTextOptions {
  /** Append `_[k]` to frames whose module is kernel code (inferno's rule, see isKernelModule). */
  kernel: boolean;
  /** Append `_[j]` to frames from a perf map or a jitdump `.so` (see isJitModule). */
  jit: boolean;
  /** Write `[module <addr>]` / `[unknown <addr>]` for frames without a symbol. */
  addrs: boolean;
  /** The process name starts with `java`: Java class descriptors lose their leading `L`. */
  java: boolean;
}

/**
 * The folded text of one frame: one or more `;`-joined names, root first, or '' when inferno
 * drops the frame (a symbol starting with `(`, which stackcollapse-perf.pl took for a process
 * name). `module` is `inlined` for frames perf printed as `(inlined)`, as inferno sees them.
 *
 *   tcp_sendmsg                     [kernel.kallsyms]  -> tcp_sendmsg_[k]            (kernel)
 *   [unknown]                       /usr/lib/libc.so.6 -> [libc.so.6]
 *   Lfoo/Bar;::baz->Lfoo/Q;::r      /tmp/perf-7.map    -> Lfoo/Bar:::baz_[j];Lfoo/Q:::r_[i]
 *   std::vector<int>::push(int&&)   /usr/bin/app       -> std::vector<int>::push
 */
export function frameText(name: string, module: string, address: string | null, o: FrameTextOptions): string {
  if (name.charCodeAt(0) === 0x28 /* ( */) return '';
  const parts = fixPartiallyDemangledRust(name).split('->');
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    let func = tidyGeneric(unknownSymbolName(parts[i], module, address, o.addrs));
    if (o.java) func = tidyJava(func);
    // Java inlining (`caller->inlinee`): every name after the first was inlined into the first.
    if (i > 0) {
      if (!func.includes('_[i]')) func += '_[i]';
    } else if (o.kernel && isKernelModule(module)) {
      func += '_[k]';
    } else if (o.jit && isJitModule(module) && !func.includes('_[j]')) {
      func += '_[j]';
    }
    out = i === 0 ? func : `${out};${func}`;
  }
  return out;
}

/** `[unknown]` becomes the module's base name in brackets, with the address when asked. */
function unknownSymbolName(func: string, module: string, address: string | null, addrs: boolean): string {
  if (func !== '[unknown]') return func;
  if (module === '[unknown]' && !addrs) return func;
  const base = module === '[unknown]' ? 'unknown' : module.slice(module.lastIndexOf('/') + 1);
  if (!addrs) return `[${base}]`;
  if (address === null) {
    throw new Error('collapse with addrs needs a profile parsed with keepAddresses: true');
  }
  return `[${base} <${address}>]`;
}

/**
 * `;` would split the folded stack, so it becomes `:`; an argument list is cut at the first
 * top-level `(`, except Go method receivers (`pkg.(*T).M`, the `(` right after a `.`) and C++
 * `(anonymous namespace)`. `<{[` open and `>}])` close a level; the depth may go negative (as
 * with `operator>`), after which no `(` counts as top level: inferno behaves the same.
 */
export function tidyGeneric(func: string): string {
  const s = func.includes(';') ? func.replaceAll(';', ':') : func;
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x3c || c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x3e || c === 0x7d || c === 0x5d || c === 0x29) depth--;
    else if (c === 0x28) {
      if (depth === 0 && s.charCodeAt(i - 1) !== 0x2e && !s.startsWith('(anonymous namespace)', i)) {
        return s.slice(0, i);
      }
      depth++;
    }
  }
  return s;
}

/** `Lorg/mozilla/javascript/MemberBox:.init` -> `org/mozilla/javascript/MemberBox:.init`. */
export function tidyJava(func: string): string {
  return func.charCodeAt(0) === 0x4c /* L */ && func.includes('/') ? func.slice(1) : func;
}

/**
 * inferno's kernel test: a module in brackets (`[kernel.kallsyms]`, `[vdso]`, `[nf_conntrack]`)
 * other than `[unknown]`, a `.ko` file, or a vmlinux image (`/usr/lib/debug/boot/vmlinux-5.4.14`).
 * Unlike crosstalk's FrameKind, `[vdso]` counts as kernel and `bpf_prog_*` does not.
 */
export function isKernelModule(module: string): boolean {
  if (module === '[unknown]') return false;
  return module.startsWith('[') || module.endsWith('.ko') || isVmlinux(module);
}

/** `vmlinux` followed only by ASCII letters, digits, `-`, `.`, `_` up to the end. */
function isVmlinux(module: string): boolean {
  const at = module.lastIndexOf('vmlinux');
  return at !== -1 && /^[A-Za-z0-9._-]*$/.test(module.slice(at + 7));
}

/** A perf map (`/tmp/perf-1234.map`) or a jitdump image (`~/.debug/jit/.../jitted-1234-5.so`). */
export function isJitModule(module: string): boolean {
  return (
    (module.startsWith('/tmp/perf-') && module.endsWith('.map')) ||
    (module.includes('/jitted-') && module.endsWith('.so'))
  );
}

/** Rust legacy-mangling escapes perf leaves in place when it demangles only partially. */
const rustEscapes: readonly (readonly [string, string])[] = [
  ['$SP$', '@'],
  ['$BP$', '*'],
  ['$RF$', '&'],
  ['$LT$', '<'],
  ['$GT$', '>'],
  ['$LP$', '('],
  ['$RP$', ')'],
  ['$C$', ','],
  ['$u7e$', '~'],
  ['$u20$', ' '],
  ['$u27$', "'"],
  ['$u3d$', '='],
  ['$u5b$', '['],
  ['$u5d$', ']'],
  ['$u7b$', '{'],
  ['$u7d$', '}'],
  ['$u3b$', ';'],
  ['$u2b$', '+'],
  ['$u21$', '!'],
  ['$u22$', '"'],
];

/** `::h` + 16 hex digits: the hash rustc appends to legacy-mangled paths. */
const rustHash = /(?:::)?h[0-9a-fA-F]{16}$/;

/**
 * `_$LT$std..fs..ReadDir$u20$as$u20$Iterator$GT$::next::hc14f1750ca79129b` ->
 * `<std::fs::ReadDir as Iterator>::next`. Symbols without the trailing hash are left alone, so
 * fully demangled and fully mangled (`_ZN...E`) names pass through unchanged.
 */
export function fixPartiallyDemangledRust(symbol: string): string {
  const hash = rustHash.exec(symbol);
  if (hash === null) return symbol;
  let rest = symbol.slice(0, hash.index);
  if (rest.startsWith('_$')) rest = rest.slice(1);
  let out = '';
  let i = 0;
  while (i < rest.length) {
    const c = rest[i];
    if (c === '.') {
      const pair = rest[i + 1] === '.';
      out += pair ? '::' : '.';
      i += pair ? 2 : 1;
    } else if (c === '$') {
      const esc = rustEscapes.find(([from]) => rest.startsWith(from, i));
      if (esc === undefined) return out + rest.slice(i);
      out += esc[1];
      i += esc[0].length;
    } else {
      let j = i + 1;
      while (j < rest.length && rest[j] !== '$' && rest[j] !== '.') j++;
      out += rest.slice(i, j);
      i = j;
    }
  }
  return out;
}
