import { defineConfig, loadEnv, type Plugin } from 'vite';

// A Clerk secret key has no business in the site: fail the build if anything like one is in it.
const SECRET = /sk_(test|live)_[A-Za-z0-9]{20,}/;

function noSecrets(env: Record<string, string>): Plugin {
  return {
    name: 'no-clerk-secret-key',
    configResolved() {
      for (const [k, v] of Object.entries(env)) {
        if (k.startsWith('VITE_') && /^sk_(test|live)_/.test(v.trim())) {
          throw new Error(`${k} holds a Clerk secret key (sk_...): the site must only carry the publishable key`);
        }
      }
    },
    generateBundle(_options, bundle) {
      for (const [name, item] of Object.entries(bundle)) {
        const text = item.type === 'chunk' ? item.code : typeof item.source === 'string' ? item.source : new TextDecoder().decode(item.source);
        if (SECRET.test(text)) this.error(`${name} contains something like a Clerk secret key (sk_...): refusing to build`);
      }
    },
  };
}

export default defineConfig(({ mode }) => {
  const env = loadEnv(mode, process.cwd(), '');
  return {
    plugins: [noSecrets(env)],
    server: {
      // The local run: the API and the stand-in's admin API on the site's own origin (no CORS).
      proxy: {
        '/api': { target: env.VITE_API_PROXY || 'http://127.0.0.1:9000', changeOrigin: false },
        '/demo-admin': {
          target: env.VITE_DEMO_ADMIN || 'http://127.0.0.1:8091',
          rewrite: (p) => p.replace(/^\/demo-admin/, ''),
        },
      },
    },
    // clerk-js is one large chunk, loaded only when Clerk is used.
    build: { sourcemap: false, target: 'es2022', chunkSizeWarningLimit: 2000 },
    test: { environment: 'node', include: ['tests/unit/**/*.test.ts'] },
  };
});
