// Where to go after sign-in: only a path on this site. `redirect_url` comes from the address bar,
// so anyone can craft it; a value that a browser (or Clerk, or a later decode) could resolve to
// another origin falls back to `/`.

const MAX_DECODES = 5;
// Every string reachable from the value by decoding and normalising is checked; a value with more
// variants than this is refused rather than explored further.
const MAX_VARIANTS = 64;
// Backslash (browsers read it as a slash), ASCII control characters, DEL and whitespace: never in
// a path we send people to, and each of them is a known way around a prefix check.
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\\\u0000-\u0020\u007f]/;

function acceptable(path: string, origin: string): boolean {
  if (!path.startsWith('/') || path.startsWith('//') || FORBIDDEN.test(path)) return false;
  try {
    return new URL(path, origin).origin === origin;
  } catch {
    return false;
  }
}

/** `path` as the URL parser resolves it against `origin` (`.`/`..` segments removed), or null. */
function normalise(path: string, origin: string): string | null {
  try {
    const url = new URL(path, origin);
    return `${url.pathname}${url.search}${url.hash}`;
  } catch {
    return null;
  }
}

/**
 * The value, every decoding of it (nested encodings such as %252F) and every URL normalisation of
 * those (which removes dot segments: `/.//evil` is `//evil`), in any order, are all acceptable: any
 * later consumer that decodes or resolves it once more must still see a path on this origin.
 */
function acceptableEverywhere(value: string, origin: string): boolean {
  const seen = new Set<string>([value]);
  const todo: [string, number][] = [[value, 0]];
  for (let next = todo.pop(); next; next = todo.pop()) {
    const [current, decodes] = next;
    if (!acceptable(current, origin)) return false;
    let decoded: string;
    try {
      decoded = decodeURIComponent(current);
    } catch {
      return false; // malformed percent-encoding
    }
    const normalised = normalise(current, origin);
    if (normalised === null) return false;
    if (decoded !== current && decodes === MAX_DECODES) return false;
    for (const [variant, depth] of [
      [decoded, decodes + 1],
      [normalised, decodes],
    ] as const) {
      if (seen.has(variant)) continue;
      if (seen.size === MAX_VARIANTS) return false;
      seen.add(variant);
      todo.push([variant, depth]);
    }
  }
  return true;
}

/** A same-origin path (with query and fragment) to go to, or `/`. */
export function safeRedirect(value: string | null, origin: string): string {
  if (!value || !acceptableEverywhere(value, origin)) return '/';
  // What is returned is checked as well, not only what was given: the normalised form must pass
  // every check itself, and be a fixed point (normalising it again changes nothing).
  const result = normalise(value, origin);
  if (result === null || normalise(result, origin) !== result) return '/';
  return acceptableEverywhere(result, origin) ? result : '/';
}
