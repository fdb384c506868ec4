// Where to go after sign-in: only a path on this site. `redirect_url` comes from the address bar,
// so anyone can craft it; a value that a browser (or Clerk, or a later decode) could resolve to
// another origin falls back to `/`.

const MAX_DECODES = 5;
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

/** A same-origin path (with query and fragment) to go to, or `/`. */
export function safeRedirect(value: string | null, origin: string): string {
  if (!value) return '/';
  // Check the value as given and every decoding of it (nested encodings such as %252F): any later
  // consumer that decodes once more must still see a path on this origin.
  let current = value;
  for (let i = 0; ; i++) {
    if (!acceptable(current, origin)) return '/';
    let decoded: string;
    try {
      decoded = decodeURIComponent(current);
    } catch {
      return '/'; // malformed percent-encoding
    }
    if (decoded === current) break;
    if (i === MAX_DECODES) return '/';
    current = decoded;
  }
  const url = new URL(value, origin);
  return `${url.pathname}${url.search}${url.hash}`;
}
