// Lint, including the layer rules of STYLE.md: core, policies and models are pure
// (no Node built-ins, no I/O packages, no wall clock, no Math.random, no timers).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const pureRestrictions = {
  'no-restricted-imports': [
    'error',
    {
      patterns: [
        {
          group: ['node:*', 'fs', 'path', 'os', 'child_process', 'net', 'http', 'https', 'worker_threads'],
          message: 'core/, policies/ and models/ are pure: no I/O (STYLE.md §1).',
        },
        {
          group: ['**/sim/**', '**/cli/**', '**/drivers/**', '**/api/**', '**/agent/**', '**/control/**'],
          message: 'Imports point inward: the pure core may not import edges (STYLE.md §1).',
        },
      ],
    },
  ],
  'no-restricted-globals': [
    'error',
    { name: 'setTimeout', message: 'Pass a Clock in (STYLE.md §2).' },
    { name: 'setInterval', message: 'Pass a Clock in (STYLE.md §2).' },
    { name: 'process', message: 'No process access in the pure core.' },
    { name: 'performance', message: 'Pass a Clock in (STYLE.md §2).' },
  ],
  'no-restricted-properties': [
    'error',
    { object: 'Date', property: 'now', message: 'Pass a Clock in (STYLE.md §2).' },
    { object: 'Math', property: 'random', message: 'Pass a seeded Random in (STYLE.md §2).' },
  ],
};

// control/ acts on the world, but ids, time and randomness are injected (ctx.ids, ctx.clock, a seeded
// Random), so a simulated replay is reproducible to the id; timers belong to the clock (STYLE.md §2).
const RANDOM_FNS = [
  'randomUUID',
  'randomBytes',
  'randomInt',
  'randomFill',
  'randomFillSync',
  'getRandomValues',
];
const injectedRestrictions = {
  'no-restricted-imports': [
    'error',
    {
      paths: [
        ...['node:crypto', 'crypto'].map((name) => ({
          name,
          importNames: [...RANDOM_FNS, 'webcrypto'],
          message: 'Ids and secrets come from ctx.ids (an IdSource); createHash is fine (STYLE.md §2).',
        })),
        {
          name: 'node:timers',
          message: 'Timers come from ctx.clock.schedule (STYLE.md §2).',
        },
        {
          name: 'node:timers/promises',
          message: 'Timers come from ctx.clock.schedule (STYLE.md §2).',
        },
      ],
      // The control plane reaches hosts through the driver port only (src/core/host-driver.ts): the
      // composition roots give it a HostDrivers; it names no concrete driver and no edge.
      patterns: [
        {
          group: ['**/drivers/**', '**/api/**', '**/cli/**', '**/agent/**', '**/sim/**'],
          message:
            'control/ reaches hosts through the HostDrivers port and imports no edge (ARCHITECTURE.md).',
        },
      ],
    },
  ],
  'no-restricted-globals': [
    'error',
    ...['setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask'].map((name) => ({
      name,
      message: 'Schedule on the injected clock (ctx.clock.schedule; periodic work is a controller).',
    })),
    { name: 'performance', message: 'Read the injected clock (ctx.clock.now()).' },
  ],
  'no-restricted-properties': [
    'error',
    { object: 'Date', property: 'now', message: 'Read the injected clock (ctx.clock.now()).' },
    { object: 'Math', property: 'random', message: 'Pass a seeded Random in (STYLE.md §2).' },
    ...RANDOM_FNS.map((property) => ({
      object: 'crypto',
      property,
      message: 'Ids and secrets come from ctx.ids (an IdSource).',
    })),
  ],
  'no-restricted-syntax': [
    'error',
    {
      selector: "NewExpression[callee.name='Date'][arguments.length=0]",
      message: 'new Date() reads the wall clock: use nowIso(ctx) or new Date(ctx.clock.now() * 1000).',
    },
    {
      selector: "CallExpression[callee.name='Date']",
      message: 'Date() reads the wall clock: use nowIso(ctx).',
    },
  ],
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'out/**', 'web/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['bin/**/*.js', 'bench/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    // The API client runs in the browser too (the dashboard): fetch only, no Node built-ins, no edges.
    files: ['src/client/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'os', 'child_process', 'net', 'http', 'https'],
              message: 'src/client/ is browser-safe: fetch only.',
            },
            {
              group: ['**/sim/**', '**/cli/**', '**/drivers/**', '**/api/**', '**/agent/**'],
              message: 'src/client/ may import types from the pure core only.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'src/client/ runs in the browser too.' },
      ],
    },
  },
  {
    files: ['src/core/**/*.ts', 'src/policies/**/*.ts', 'src/models/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: pureRestrictions,
  },
  {
    files: ['src/control/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: injectedRestrictions,
  },
);
