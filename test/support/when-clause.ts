// A small evaluator of VS Code when-clauses (||, &&, !, ==, !=, =~ /re/flags, in, not in, parentheses), enough for
// the manifest test to ask whether a menu entry can show before the extension has activated.

type Ctx = (key: string) => unknown;
/** A value that matches any comparison: a tree item's own contextValue, which any of ours may be. */
export const ANY = Symbol('any');
type Node = (ctx: Ctx) => unknown;

export function parseWhen(src: string): Node {
  const tokens = [...src.matchAll(/\s*(\|\||&&|==|!=|=~\s*\/(?:\\.|[^/])*\/[a-z]*|!|\(|\)|'[^']*'|not in\b|in\b|[^\s()!=&|']+)/g)].map((m) => m[1]);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  const value = (t: string): unknown => (t === 'true' ? true : t === 'false' ? false : /^'.*'$/.test(t) ? t.slice(1, -1) : /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t);
  function primary(): Node {
    const t = next();
    if (t === '!') { const inner = primary(); return (c) => !inner(c); }
    if (t === '(') { const e = or(); if (next() !== ')') throw new Error(`missing ) in ${src}`); return e; }
    if (t === undefined) throw new Error(`unexpected end of ${src}`);
    const key = t;
    const op = peek();
    if (op === '==' || op === '!=') {
      next();
      const v = value(next());
      return (c) => (c(key) === ANY || (op === '==' ? c(key) == v : c(key) != v)); // eslint-disable-line eqeqeq
    }
    if (op?.startsWith('=~')) {
      next();
      const m = /^=~\s*\/((?:\\.|[^/])*)\/([a-z]*)$/.exec(op)!;
      const re = new RegExp(m[1], m[2]);
      return (c) => { const v = c(key); return v === ANY || (typeof v === 'string' && re.test(v)); };
    }
    if (op === 'in' || op === 'not in') {
      next();
      const container = next();
      return (c) => {
        const src2 = c(container);
        const item = c(key);
        const found = Array.isArray(src2) ? src2.includes(item) : typeof src2 === 'object' && src2 !== null && typeof item === 'string' && item in src2;
        return op === 'in' ? found : !found;
      };
    }
    const v = value(key);
    return typeof v === 'boolean' ? () => v : (c) => !!c(key);
  }
  function and(): Node {
    let left = primary();
    while (peek() === '&&') { next(); const l = left; const r = primary(); left = (c) => !!l(c) && !!r(c); }
    return left;
  }
  function or(): Node {
    let left = and();
    while (peek() === '||') { next(); const l = left; const r = and(); left = (c) => !!l(c) || !!r(c); }
    return left;
  }
  const root = or();
  if (i !== tokens.length) throw new Error(`unexpected ${tokens[i]} in ${src}`);
  return root;
}

export function evaluateWhen(src: string, ctx: Record<string, unknown> | Ctx): boolean {
  const get: Ctx = typeof ctx === 'function' ? ctx : (k) => ctx[k];
  return !!parseWhen(src)(get);
}
