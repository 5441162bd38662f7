// Making problems: the codes and their texts are in src/common/problems.ts (documented in docs/formats.md).
// A problem never stops inspection: the worker decides which ones forbid an attach.
import { PROBLEM_CODES, Problem, ProblemCode } from '../common/problems';

export { PROBLEM_CODES };
export type { ProblemCode };

export function problem(code: ProblemCode, detail?: string): Problem {
  const base = PROBLEM_CODES[code];
  return { code, message: detail ? `${base}: ${detail}` : base };
}

export function hasProblem(list: Problem[], code: ProblemCode): boolean {
  return list.some((p) => p.code === code);
}
