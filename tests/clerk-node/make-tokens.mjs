// Mints RS256 Clerk-shaped session tokens with a fresh RSA-2048 key, for the throughput
// comparison: writes {pem, issuer, azp, tokens} to the file given.
import { generateKeyPairSync, createSign } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const [out, countArg] = process.argv.slice(2);
const count = Number(countArg ?? 64);
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = publicKey.export({ type: 'spki', format: 'pem' });
const issuer = 'https://bench-00.clerk.accounts.dev';
const azp = 'https://app.example.com';
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const tokens = [];
for (let i = 0; i < count; i++) {
  const header = { alg: 'RS256', kid: 'ins_bench', typ: 'JWT', cat: 'cl_B7d4PD111AAA' };
  const payload = {
    azp, exp: now + 3600, fva: [0, -1], iat: now, iss: issuer, nbf: now - 10,
    sid: `sess_bench${i}`, sts: 'active', sub: `user_bench${i}`, v: 2,
  };
  const input = `${b64(header)}.${b64(payload)}`;
  const sig = createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url');
  tokens.push(`${input}.${sig}`);
}
writeFileSync(out, JSON.stringify({ pem, issuer, azp, tokens }));
