// @clerk/backend verifyToken (networkless, PEM) on one core for about `ms` milliseconds:
// prints {"impl":"clerk-backend","ops":N,"seconds":S,"opsPerSec":R}.
import { readFileSync } from 'node:fs';
import { verifyToken } from '@clerk/backend';

const [file, msArg] = process.argv.slice(2);
const { pem, azp, tokens } = JSON.parse(readFileSync(file, 'utf8'));
const ms = Number(msArg ?? 2000);
const opts = { jwtKey: pem, authorizedParties: [azp] };
for (let i = 0; i < 200; i++) await verifyToken(tokens[i % tokens.length], opts); // warm up
let ops = 0;
const start = process.hrtime.bigint();
const end = start + BigInt(ms) * 1_000_000n;
while (process.hrtime.bigint() < end) {
  for (let i = 0; i < 50; i++) {
    const r = await verifyToken(tokens[ops % tokens.length], opts);
    if (!r || !r.sub) throw new Error('verification failed');
    ops++;
  }
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(JSON.stringify({ impl: 'clerk-backend', ops, seconds, opsPerSec: ops / seconds }));
