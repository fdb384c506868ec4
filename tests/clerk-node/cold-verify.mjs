// Cold start baseline: a Node process that imports @clerk/backend and verifies one token.
import { readFileSync } from 'node:fs';
import { verifyToken } from '@clerk/backend';

const { pem, azp, tokens } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const r = await verifyToken(tokens[0], { jwtKey: pem, authorizedParties: [azp] });
if (!r.sub) process.exit(1);
