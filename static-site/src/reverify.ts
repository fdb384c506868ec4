// A call that may need the user to verify again, handled as Clerk's useReverification() does:
// on a 403 reverification-error, prompt; once verified, retry the call exactly once.
import type { Api, ApiResult, CallOptions } from './api';
import type { ReverifyAnswer } from './auth';

export type ReverificationLevel = 'first_factor' | 'second_factor' | 'multi_factor';

const PRESET_LEVELS: Record<string, ReverificationLevel> = {
  strict_mfa: 'multi_factor',
  strict: 'second_factor',
  moderate: 'second_factor',
  lax: 'second_factor',
};

/**
 * The level Clerk's verification prompt asks for, read from `metadata.reverification` as
 * @clerk/shared's validateReverificationConfig reads it; undefined (Clerk's default) otherwise.
 */
export function levelOf(requirement: unknown): ReverificationLevel | undefined {
  if (typeof requirement === 'string') return Object.hasOwn(PRESET_LEVELS, requirement) ? PRESET_LEVELS[requirement] : undefined;
  if (typeof requirement === 'object' && requirement !== null) {
    const { level, afterMinutes } = requirement as { level?: unknown; afterMinutes?: unknown };
    const valid = level === 'first_factor' || level === 'second_factor' || level === 'multi_factor';
    if (valid && typeof afterMinutes === 'number' && Number.isFinite(afterMinutes) && afterMinutes > 0) return level;
  }
  return undefined;
}

export interface ReverifiedCall {
  first: ApiResult;
  /** How the prompt ended, when the first answer asked for one. */
  answer?: ReverifyAnswer;
  /** The one retry, after the user verified. */
  retry?: ApiResult;
}

/**
 * Calls `path`; on a reverification answer, reports it (`onFirst`, so the page can show it while
 * the prompt is open), asks `reverify`, and retries once if the user verified. Never loops: a
 * second reverification answer is shown as it is.
 */
export async function callWithReverification(
  api: Api,
  path: string,
  options: CallOptions,
  reverify: (requirement: unknown) => Promise<ReverifyAnswer>,
  onFirst: (r: ApiResult) => void = () => {},
): Promise<ReverifiedCall> {
  const first = await api(path, options);
  onFirst(first);
  if (first.outcome !== 'reverify') return { first };
  const answer = await reverify(first.reverification);
  if (answer !== 'verified') return { first, answer };
  return { first, answer, retry: await api(path, options) };
}
